"""The Chinese edition (fsl_course/translation.py): translations keyed by cell id and the English text's hash,
stale, missing and orphaned ones found, the Chinese notebooks generated with the English code cells exactly;
then the repository itself: no stale or orphaned translation, the committed notebooks/zh/ as generated, the
glossary's terms used."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from fsl_course import translation as tr

REPO = Path(__file__).resolve().parent.parent
HOW = "see 'fsl-course translate status --show'; update translations/zh/ and run 'fsl-course translate stamp'"


def cell(kind: str, cell_id: str, text: str, **extra) -> dict:
    c = {"cell_type": kind, "id": cell_id, "metadata": extra.pop("metadata", {}), "source": tr.lines(text)}
    if kind == "code":
        c.update(execution_count=None, outputs=extra.pop("outputs", []))
    return c


def notebook(*cells) -> dict:
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4,
            "nbformat_minor": 5}


@pytest.fixture
def course(tmp_path):
    """A tiny course: two English chapters in notebooks/, a translation of the first in translations/zh/."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    first = notebook(
        cell("markdown", "a-title", "# 00 · A title\n\nThe **support set** of an episode."),
        cell("code", "a-code", 'print("héllo")  # ünïcode, kept\nx = 1', metadata={"tags": ["hide-input"]},
             outputs=[{"name": "stdout", "output_type": "stream", "text": ["héllo\n"]}]),
        cell("markdown", "a-more", "More text, see [the next one](01_second.ipynb) and [a file](../README.md)."),
        cell("markdown", "a-last", "Next: [01](01_second.ipynb)"),
    )
    second = notebook(cell("markdown", "b-title", "# 01 · Second"), cell("code", "b-code", "y = 2"))
    (nbs / "00_first.ipynb").write_text(tr.dumps(first), encoding="utf-8")
    (nbs / "01_second.ipynb").write_text(tr.dumps(second), encoding="utf-8")
    translations = tmp_path / "translations"
    english = tr.text_cells(first)
    entries = {i: {"source_sha256": tr.sha256(english[i]), "text": text} for i, text in
               [("a-title", "# 00 · 标题\n\n一个分集的**支持集**。"), ("a-more", "更多文字，见[下一章](01_second.ipynb)。")]}
    tr.write_translations(tr.translation_file(nbs / "00_first.ipynb", translations), nbs / "00_first.ipynb",
                          entries, list(english))
    return nbs, translations


def test_text_cells_are_the_markdown_cells_by_id_in_order(course):
    nbs, _ = course
    nb = tr.read_notebook(nbs / "00_first.ipynb")
    assert list(tr.text_cells(nb)) == ["a-title", "a-more", "a-last"]
    assert tr.text_cells(nb)["a-title"].startswith("# 00 · A title")


def test_the_translation_file_is_readable_utf8_with_the_english_hash(course):
    nbs, translations = course
    path = translations / "zh" / "00_first.json"
    text = path.read_text(encoding="utf-8")
    assert "标题" in text and "\\u" not in text and text.startswith("{\n ")
    data = json.loads(text)
    english = tr.text_cells(tr.read_notebook(nbs / "00_first.ipynb"))
    assert list(data["cells"]) == ["a-title", "a-more"]
    assert data["cells"]["a-title"]["source_sha256"] == tr.sha256(english["a-title"])


def test_status_reports_current_missing_stale_and_orphaned(course):
    nbs, translations = course
    path = nbs / "00_first.ipynb"
    s = tr.status(tr.read_notebook(path), tr.read_translations(tr.translation_file(path, translations)))
    assert (s.current, s.missing, s.stale, s.orphaned) == (["a-title", "a-more"], ["a-last"], [], [])
    assert not s.complete

    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][0]["source"][-1] = "The **support set** of an episode, edited."  # the English changes
    nb["cells"] = [c for c in nb["cells"] if c["id"] != "a-more"]  # a translated cell is deleted
    s = tr.status(nb, tr.read_translations(tr.translation_file(path, translations)))
    assert (s.current, s.missing, s.stale, s.orphaned) == ([], ["a-last"], ["a-title"], ["a-more"])


def test_a_translation_of_a_cell_that_became_code_is_orphaned(course):
    nbs, translations = course
    path = nbs / "00_first.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][2]["cell_type"] = "code"
    s = tr.status(nb, tr.read_translations(tr.translation_file(path, translations)))
    assert s.orphaned == ["a-more"] and "a-more" not in s.missing


def test_generated_notebook_keeps_ids_and_code_cells_byte_for_byte(course):
    nbs, translations = course
    tr.build(nbs, translations)
    english = json.loads((nbs / "00_first.ipynb").read_text(encoding="utf-8"))
    chinese = json.loads((nbs / "zh" / "00_first.ipynb").read_text(encoding="utf-8"))
    assert [c["id"] for c in chinese["cells"]] == [c["id"] for c in english["cells"]]
    assert [c["cell_type"] for c in chinese["cells"]] == [c["cell_type"] for c in english["cells"]]
    for en, zh in zip(english["cells"], chinese["cells"]):
        if en["cell_type"] == "code":
            assert json.dumps(zh, ensure_ascii=False) == json.dumps(en, ensure_ascii=False)
    raw = (nbs / "zh" / "00_first.ipynb").read_text(encoding="utf-8")
    assert 'print(\\"héllo\\")  # ünïcode, kept' in raw and raw.endswith("}\n")  # nbformat's layout
    assert "".join(chinese["cells"][0]["source"]) == "# 00 · 标题\n\n一个分集的**支持集**。"
    assert chinese["metadata"]["kernelspec"] == english["metadata"]["kernelspec"]
    assert chinese["metadata"]["fsl_course"]["language"] == "zh"


def test_missing_and_stale_cells_keep_the_english_under_a_visible_note(course):
    nbs, translations = course
    path = nbs / "00_first.ipynb"
    nb = tr.read_notebook(path)
    nb["cells"][0]["source"] = tr.lines("# 00 · A new title")
    chinese = tr.generate(nb, tr.read_translations(tr.translation_file(path, translations)), {"00_first.ipynb"})
    texts = {c["id"]: "".join(c["source"]) for c in chinese["cells"] if c["cell_type"] == "markdown"}
    assert texts["a-title"] == f"{tr.STALE_NOTE}\n\n# 00 · A new title"  # not the old translation
    assert texts["a-last"].startswith(tr.MISSING_NOTE) and "Next: [01](../01_second.ipynb)" in texts["a-last"]
    assert "译文已过期" in tr.STALE_NOTE and "尚未翻译" in tr.MISSING_NOTE
    assert "标题" not in texts["a-title"]
    assert tr.MISSING_NOTE not in texts["a-more"] and tr.STALE_NOTE not in texts["a-more"]


def test_links_point_at_the_chinese_chapter_where_there_is_one_else_at_the_english(course):
    nbs, translations = course
    made = tr.build(nbs, translations, write=False)
    text = "".join("".join(c["source"]) for c in json.loads(made[nbs / "zh" / "00_first.ipynb"])["cells"])
    assert "[下一章](../01_second.ipynb)" in text  # 01 has no translation: the English one
    (translations / "zh" / "01_second.json").write_text('{"cells": {}}', encoding="utf-8")
    made = tr.build(nbs, translations, write=False)
    text = "".join("".join(c["source"]) for c in json.loads(made[nbs / "zh" / "00_first.ipynb"])["cells"])
    assert "[下一章](01_second.ipynb)" in text and set(made) == {nbs / "zh" / "00_first.ipynb",
                                                                nbs / "zh" / "01_second.ipynb"}
    assert tr.relink("[a](https://x.org/a.ipynb) [b](#top) [c](../README.md)", set()) == \
        "[a](https://x.org/a.ipynb) [b](#top) [c](../../README.md)"


def test_build_writes_only_translated_chapters_and_removes_chinese_notebooks_left_over(course):
    nbs, translations = course
    (nbs / "zh").mkdir()
    (nbs / "zh" / "05_gone.ipynb").write_text("{}", encoding="utf-8")
    made = tr.build(nbs, translations)
    assert sorted(p.name for p in (nbs / "zh").glob("*.ipynb")) == ["00_first.ipynb"] == [p.name for p in made]


def test_stamp_marks_an_updated_translation_current(course):
    nbs, translations = course
    path = nbs / "00_first.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = tr.lines("# 00 · A new title")
    path.write_text(tr.dumps(nb), encoding="utf-8")
    assert tr.status(nb, tr.read_translations(tr.translation_file(path, translations))).stale == ["a-title"]
    tr.stamp(path, ["a-title"], translations)
    s = tr.status(nb, tr.read_translations(tr.translation_file(path, translations)))
    assert s.stale == [] and s.current == ["a-title", "a-more"]
    with pytest.raises(ValueError, match="no translation of cell 'a-last'"):
        tr.stamp(path, ["a-last"], translations)
    with pytest.raises(ValueError, match="no markdown cell 'a-code'"):
        tr.stamp(path, ["a-code"], translations)


def test_a_notebook_without_cell_ids_is_refused(tmp_path):
    nb = notebook(cell("markdown", "x", "text"))
    nb["nbformat_minor"] = 4
    (tmp_path / "00_old.ipynb").write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="nbformat 4.5"):
        tr.read_notebook(tmp_path / "00_old.ipynb")


def test_glossary_misses_finds_an_english_term_without_its_chinese_one():
    english = "Each **episode** has a {term}`support set` and a query set; `support_set` is code."
    assert tr.glossary_misses(english, "每个分集都有一个支持集和一个查询集。") == []
    assert tr.glossary_misses(english, "每个任务都有一个支持集和一个查询集。") == [("episode", "分集")]
    assert ("support set", "支持集") in tr.glossary_misses(english, "每个分集都有一个支撑集和一个查询集。")
    # plurals, hyphens and line breaks count; code spans and link targets do not
    assert [en for en, _ in tr.glossary_misses("Meta-learning over\nbase datasets and episodes", "")] == \
        ["episode", "meta-learning", "base data set"]
    assert tr.glossary_misses("see `few_shot_learning()` and [x](few-shot-learning.md)", "") == []


# ---- the repository ------------------------------------------------------------------------------------------------

CHAPTERS = tr.english_notebooks()
TRANSLATED = [p for p in CHAPTERS if tr.translation_file(p).is_file()]


def test_every_translation_file_belongs_to_a_chapter():
    chapters = {p.stem for p in CHAPTERS}
    for path in sorted((tr.TRANSLATIONS / tr.LANGUAGE).glob("*.json")):
        assert path.stem in chapters, f"{path.relative_to(REPO)} translates no notebook in notebooks/"
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["language"] == "zh" and data["notebook"] == f"notebooks/{path.stem}.ipynb"


@pytest.mark.parametrize("path", TRANSLATED, ids=lambda p: p.stem)
def test_no_translation_is_stale_or_orphaned(path):
    """The drift check: a translated notebook whose English text cell has changed since fails here, naming the
    cell. Cells not translated yet are allowed (reported by 'fsl-course translate status')."""
    s = tr.status(tr.read_notebook(path), tr.read_translations(tr.translation_file(path)))
    assert not s.stale, f"{path.name}: the English text of cells {s.stale} changed since translated ({HOW})"
    assert not s.orphaned, (f"{tr.translation_file(path).relative_to(REPO)} translates cells {s.orphaned}, "
                            f"which {path.name} no longer has as text cells: remove them")


def test_the_committed_chinese_notebooks_are_the_generated_ones():
    made = tr.build(write=False)
    on_disk = sorted((tr.NOTEBOOKS / tr.LANGUAGE).glob("*.ipynb"))
    assert sorted(made) == on_disk, "notebooks/zh/ must hold one notebook per translation file: fsl-course translate build"
    for path, text in made.items():
        assert path.read_text(encoding="utf-8") == text, \
            f"{path.relative_to(REPO)} is not what the generator makes: run 'fsl-course translate build'"


@pytest.mark.parametrize("path", TRANSLATED, ids=lambda p: p.stem)
def test_the_chinese_notebook_has_the_english_code_cells_exactly(path):
    english = json.loads(path.read_text(encoding="utf-8"))
    chinese = json.loads((tr.NOTEBOOKS / tr.LANGUAGE / path.name).read_text(encoding="utf-8"))
    assert [c["id"] for c in chinese["cells"]] == [c["id"] for c in english["cells"]]
    code = [(en, zh) for en, zh in zip(english["cells"], chinese["cells"]) if en["cell_type"] == "code"]
    assert code and all(zh == en for en, zh in code)


@pytest.mark.parametrize("path", TRANSLATED, ids=lambda p: p.stem)
def test_translations_use_the_glossary_terms(path):
    english = tr.text_cells(tr.read_notebook(path))
    translations = tr.read_translations(tr.translation_file(path))
    misses = {i: tr.glossary_misses(english[i], t["text"]) for i, t in translations.items() if i in english}
    misses = {i: m for i, m in misses.items() if m}
    assert not misses, f"{path.name}: cells whose Chinese lacks the glossary's term (GLOSSARY_ZH): {misses}"


def code_spans(text: str) -> list[str]:
    """The inline code of a markdown text, sorted (not the text of roles such as {cite}`...`)."""
    text = re.sub(r"^```.*$", "", text, flags=re.M)
    spans = re.finditer(r"(\{[^}\s]+\})?`((?:[^`\n]|\n(?!\s*\n))*)`", text)  # a span may cross a line break
    return sorted(" ".join(m.group(2).split()) for m in spans if not m.group(1))


@pytest.mark.parametrize("path", TRANSLATED, ids=lambda p: p.stem)
def test_translations_keep_the_markup(path):
    """Code spans, math, links, citations, glossary roles and MyST directives of the English survive: the same
    inline code, the same link targets, the same citation keys, the same directive lines."""
    english = tr.text_cells(tr.read_notebook(path))
    for cell_id, entry in tr.read_translations(tr.translation_file(path)).items():
        en, zh = english[cell_id], entry["text"]
        where = f"{path.name}, cell {cell_id}"
        assert code_spans(en) == code_spans(zh), f"{where}: the inline code differs"
        for pattern in (r"\]\(([^)]+)\)", r"\{cite(?::\w+)?\}`[^`]+`", r"\$[^$\n]+\$",
                        r"^```.*$", r"^:\w+:.*$", r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`"):
            assert sorted(re.findall(pattern, en, re.M)) == sorted(re.findall(pattern, zh, re.M)), \
                f"{where}: {pattern} differs"
        assert en.count("|") == zh.count("|"), f"{where}: the table's cells differ"
        heading = re.match(r"#+ ", en)
        assert (heading.group(0) if heading else None) == (re.match(r"#+ ", zh).group(0) if heading else None), \
            f"{where}: the heading level differs"


def test_pytest_executes_the_chinese_notebooks_too():
    """The Chinese notebooks run under `pytest --nbval-lax` like the English ones (in notebooks/zh/, their own
    working folder): nothing keeps pytest from collecting them."""
    assert not (tr.NOTEBOOKS / tr.LANGUAGE / "conftest.py").exists()
    import tomllib
    ini = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert "notebooks" in ini["testpaths"] and "zh" not in " ".join(ini.get("addopts", "").split())


def test_every_chapter_and_every_page_is_translated_and_current():
    """The whole course is in Chinese: every text cell of every chapter and every page of the book."""
    for path in CHAPTERS:
        s = tr.status(tr.read_notebook(path), tr.read_translations(tr.translation_file(path)))
        assert tr.translation_file(path).is_file() and not s.missing, \
            f"{path.name}: text cells without a Chinese translation: {s.missing} ({HOW})"
    for page in tr.english_pages():
        assert tr.page_status(page) == "current", (
            f"{page.relative_to(REPO)}: its Chinese page {tr.page_translation(page).relative_to(REPO)} is "
            f"{tr.page_status(page)} (update it, then 'fsl-course translate stamp {page.relative_to(REPO)}')")


@pytest.mark.parametrize("page", tr.english_pages(), ids=lambda p: p.name)
def test_page_translations_keep_the_markup(page):
    """A Chinese page keeps its English page's citations, glossary targets, directives, code and math; the
    glossary keeps every English term (as a second term line: the Chinese chapters' roles target it)."""
    found = tr.read_page_translation(page)
    if found is None:
        pytest.skip(f"{page.name} is not translated yet")
    en, zh = page.read_text(encoding="utf-8"), found[1]
    for pattern in (r"\{cite(?::\w+)?\}`[^`]+`", r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", r"^```.*$", r"^:\w+:.*$",
                    r"\$[^$\n]+\$", r"^  papers: .*$"):
        assert sorted(re.findall(pattern, en, re.M)) == sorted(re.findall(pattern, zh, re.M)), \
            f"{tr.page_translation(page).name}: {pattern} differs from {page.name}"
    assert code_spans(en) == code_spans(zh), f"{tr.page_translation(page).name}: the inline code differs"
    if page.name == "glossary.md":
        terms = lambda text: re.findall(r"^(\S[^\n]*)$", re.search(r"```\{glossary\}\n(.*?)```", text, re.S).group(1),
                                        re.M)
        assert set(terms(en)) <= set(terms(zh)), f"terms missing from the Chinese glossary: {set(terms(en)) - set(terms(zh))}"


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A tiny book: book/_toc.yml with one page, book/intro.md, and the repository root at tmp_path."""
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n- caption: The course\n"
                                                "  chapters:\n  - file: notebooks/00_a\n  - file: book/glossary\n")
    (tmp_path / "book" / "intro.md").write_text("# Few-shot learning\n\nThe support set.\n", encoding="utf-8")
    (tmp_path / "book" / "glossary.md").write_text("# Glossary\n", encoding="utf-8")
    monkeypatch.setattr(tr, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(tr, "BOOK", tmp_path / "book")
    return tmp_path / "book"


def test_a_page_translation_is_missing_then_stale_then_current_after_stamping(book):
    intro = book / "intro.md"
    assert tr.english_pages() == [intro, book / "glossary.md"]  # the toc's pages of book/, root first
    assert tr.page_status(intro) == "missing"
    chinese = book / "zh" / "intro.md"
    chinese.parent.mkdir()
    chinese.write_text("% translation of book/intro.md · source_sha256 PENDING\n\n# 少样本学习\n\n支持集。\n",
                       encoding="utf-8")
    assert tr.page_status(intro) == "stale"  # never stamped
    tr.stamp_page(intro)
    text = chinese.read_text(encoding="utf-8")
    assert text == (f"% translation of book/intro.md · source_sha256 {tr.sha256(intro.read_text())}\n\n"
                    "# 少样本学习\n\n支持集。\n")  # the header's hash, the translation untouched
    assert tr.page_status(intro) == "current"
    intro.write_text("# Few-shot learning\n\nThe support set, changed.\n", encoding="utf-8")
    assert tr.page_status(intro) == "stale"


def test_a_page_translation_without_its_header_is_refused_with_the_line_to_write(book):
    (book / "zh").mkdir()
    (book / "zh" / "intro.md").write_text("# 少样本学习\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"book/zh/intro.md: its first line must be '% translation of "
                                         r"book/intro.md · source_sha256 \.\.\.'"):
        tr.page_status(book / "intro.md")
    with pytest.raises(ValueError, match="does not exist: translate book/glossary.md into it first"):
        tr.stamp_page(book / "glossary.md")


def test_the_chinese_sites_toc_and_config_follow_the_english_ones():
    toc = yaml.safe_load(tr.site_toc((REPO / "book" / "_toc.yml").read_text(encoding="utf-8")))
    english = yaml.safe_load((REPO / "book" / "_toc.yml").read_text(encoding="utf-8"))
    assert toc["root"] == "book/zh/intro"
    pairs = [(en["file"], zh["file"]) for a, b in zip(english["parts"], toc["parts"])
             for en, zh in zip(a["chapters"], b["chapters"])]
    assert len(pairs) == sum(len(p["chapters"]) for p in english["parts"])
    for en, zh in pairs:  # the same documents in the same order, each the Chinese version of the English one
        folder, name = en.rsplit("/", 1)
        assert zh == f"{folder}/zh/{name}"
        assert (REPO / f"{zh}.ipynb").is_file() or (REPO / f"{zh}.md").is_file(), f"{zh} does not exist"
    config = yaml.safe_load(tr.site_config((REPO / "book" / "_config.yml").read_text(encoding="utf-8")))
    english_config = yaml.safe_load((REPO / "book" / "_config.yml").read_text(encoding="utf-8"))
    assert config["sphinx"]["config"]["language"] == "zh_CN" and config["sphinx"]["config"]["course_language"] == "zh"
    assert config["html"]["baseurl"] == english_config["html"]["baseurl"] + "zh/"
    assert config["execute"] == english_config["execute"]  # the same execution cache: no notebook runs twice
    assert english_config["execute"]["execute_notebooks"] == "cache"
    for name, folder in config["sphinx"]["local_extensions"].items():
        assert (REPO / "book" / "zh" / folder / f"{name}.py").is_file()


def test_the_committed_site_files_are_the_generated_ones():
    for path, text in tr.site_files().items():
        assert path.is_file() and path.read_text(encoding="utf-8") == text, \
            f"{path.relative_to(REPO)} is not what book/{path.name} gives: run 'fsl-course translate build'"


def test_language_links_lead_to_the_same_page_in_the_other_site():
    import importlib.util
    spec = importlib.util.spec_from_file_location("language_links", REPO / "book" / "_ext" / "language_links.py")
    links = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(links)
    site = Path("/site")  # the English site's root; the Chinese one is its zh/ folder
    for en, zh in (("book/intro", "book/zh/intro"), ("notebooks/05_x", "notebooks/zh/05_x"),
                   ("genindex", "genindex"), ("search", "search")):
        assert links.counterpart(en, "en") == zh and links.counterpart(zh, "zh") == en
        to_zh = (site / en).parent / links.link_target(en, "en")
        to_en = (site / "zh" / zh).parent / links.link_target(zh, "zh")
        assert Path(os.path.normpath(to_zh)) == site / "zh" / f"{zh}.html"
        assert Path(os.path.normpath(to_en)) == site / f"{en}.html"


def test_the_readmes_link_to_each_other():
    english = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    chinese = (REPO / "README.zh.md").read_text(encoding="utf-8").splitlines()
    assert "README.zh.md" in "\n".join(english[:3]) and "README.md" in "\n".join(chinese[:3])


def test_the_chinese_readme_links_each_chapter_in_chinese_where_it_is_translated():
    """Every translated chapter is linked in Chinese; a chapter it lists without a translation links the English
    notebook (a new chapter may reach README.zh.md after README.md)."""
    text = (REPO / "README.zh.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\((notebooks/(?:zh/)?\d\d_[^)]+\.ipynb)\)", text)
    translated = {p.name for p in TRANSLATED}
    for path in TRANSLATED:
        assert f"notebooks/zh/{path.name}" in linked, f"README.zh.md's course table should link notebooks/zh/{path.name}"
    for link in linked:
        name = link.rsplit("/", 1)[1]
        assert (REPO / link).is_file(), f"README.zh.md links {link}, which does not exist"
        assert link.startswith("notebooks/zh/") == (name in translated), \
            f"README.zh.md links {link}: the Chinese chapter is notebooks/zh/{name} exactly where it is translated"


def test_the_translate_commands_report_on_the_repository(capsys):
    from fsl_course.cli import main

    assert main(["translate", "status", "--check"]) == 0  # nothing stale or orphaned, notebooks/zh/ up to date
    out = capsys.readouterr().out
    for path in TRANSLATED:
        assert re.search(rf"^{re.escape(path.name)}: \d+ of \d+ text cells translated and current", out, re.M)
    for path in set(CHAPTERS) - set(TRANSLATED):
        assert f"{path.name}: not translated yet" in out
    assert main(["translate", "status", "99"]) == 1
    assert "error: no single notebook" in capsys.readouterr().err
