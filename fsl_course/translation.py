"""The Chinese edition of the notebooks: generated from the English ones plus stored translations of their text.

The code lives once. A Chinese notebook is never edited by hand: :func:`generate` makes it from the English
notebook and the translations of its markdown cells, stored in ``translations/zh/<notebook stem>.json``
(UTF-8, indented, one file per notebook). That file keys each translation by the English cell's ``id``
(nbformat 4.5) and records the SHA-256 of the English source it was translated from::

    {"notebook": "notebooks/00_setup_and_tour.ipynb", "language": "zh",
     "cells": {"00-00": {"source_sha256": "9f2c...", "zh": ["# 00 · 环境配置与课程导览\\n", "..."]}, ...}}

:func:`status` compares the two: a translation is **stale** when the English cell has changed since (its hash
differs), **missing** when a markdown cell has none, **orphaned** when its cell id no longer exists. The
generated notebook keeps every cell id and copies every code cell (source, metadata, tags, outputs) exactly;
a markdown cell gets its translation, or, where that is missing or stale, the current English text under a
visible Chinese note saying the translation is pending or out of date (:data:`MISSING_NOTE`,
:data:`STALE_NOTE`), so nothing untranslated ships silently. Identical code cells and ids let the website link
the same page in both languages, and let Jupyter Book's execution cache (keyed on the code cells) reuse the
English run.

Where the generated notebooks go, and why they are committed: ``notebooks/zh/``, one per English notebook that
has a translation file, with the English file name. They are committed because Colab opens a notebook from the
GitHub repository (a learner can open a Chinese chapter there only if it is in the repository) and a learner
who clones the course opens them in JupyterLab like the English ones, without a build step. Committed copies
can drift, so a test (``tests/test_translation.py``) checks that every committed Chinese notebook is exactly
what :func:`generate` makes from the current English notebook and translations, that no translation is stale
and none orphaned; ``fsl-course translate build`` rewrites them. ``pytest --nbval-lax`` executes them like the
English ones, in their own working folder, so a learner's Chinese chapter is known to run as it is opened.

Paths: a Chinese notebook runs with ``notebooks/zh/`` as its working folder. The notebooks' code finds data,
checkpoints and results through :mod:`fsl_course.config` (``REPO_ROOT``, ``checkpoints_dir()``,
``data_dir()``), never through the working folder, and the Colab first cell (:mod:`fsl_course.colab`) moves
into ``notebooks/`` whatever notebook runs it, so the code needs no change; relative links in the text are
rewritten (:func:`relink`): a link to a chapter without a Chinese version, or to any other file of the
repository, gets ``../``.

The field's Chinese terms are in :data:`GLOSSARY_ZH`; :func:`glossary_misses` finds a translated cell whose
English uses a term that its Chinese text does not render with the agreed word.

Commands: ``fsl-course translate status`` (what is missing, stale or orphaned, per notebook),
``fsl-course translate build`` (write ``notebooks/zh/``), ``fsl-course translate stamp NOTEBOOK CELL_ID ...``
(after updating a translation: record the current English source's hash).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from fsl_course.config import REPO_ROOT

LANGUAGE = "zh"
NOTEBOOKS = REPO_ROOT / "notebooks"
TRANSLATIONS = REPO_ROOT / "translations"

#: The note above the English text of a markdown cell that has no translation yet.
MISSING_NOTE = "> **【译文待补】** 本单元尚未翻译，以下为英文原文。"
#: The note above the English text of a markdown cell whose English changed after it was translated.
STALE_NOTE = ("> **【译文已过期】** 本单元的英文原文在翻译之后有改动，译文有待更新；以下为当前的英文原文。")

#: The field's terms, English -> the Chinese used throughout the course (from the article the course grew
#: from). A term in English text must appear as its Chinese word in the translation (:func:`glossary_misses`);
#: English matching ignores case, plural -s and "-" against " " (and "data set" against "dataset").
GLOSSARY_ZH = {
    "few-shot learning": "少样本学习",
    "few-shot": "少样本",
    "N-way K-shot": "N-way K-shot",
    "support set": "支持集",
    "query set": "查询集",
    "episode": "分集",
    "N-shot learning": "N-Shot Learning",
    "one-shot learning": "单样本学习",
    "one-shot": "单样本",
    "zero-shot learning": "零样本学习",
    "zero-shot": "零样本",
    "data-level": "数据级",
    "parameter-level": "参数级",
    "meta-learning": "元学习",
    "meta-learn": "元学习",
    "Model-Agnostic Meta-Learning": "与模型无关的元学习",
    "Matching Networks": "匹配网络",
    "Prototypical Networks": "原型网络",
    "Relation Networks": "关系网络",
    "base data set": "基础数据集",
    "embedding": "嵌入",
}


# ---- reading -------------------------------------------------------------------------------------------------------

def source_text(cell: dict) -> str:
    """A cell's source as one string (nbformat stores it as a string or a list of lines)."""
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def lines(text: str) -> list[str]:
    """``text`` as nbformat's list of lines (each but the last ending in a newline)."""
    return text.splitlines(keepends=True)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_notebook(path: Path) -> dict:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        raise ValueError(f"{path}: nbformat 4.5 or later is needed (cell ids key the translations)")
    ids = [c.get("id") for c in nb["cells"]]
    if None in ids or len(set(ids)) != len(ids):
        raise ValueError(f"{path}: every cell needs its own id")
    return nb


def dumps(nb: dict) -> str:
    """A notebook as the course writes it (nbformat's layout: indent 1, UTF-8 text, key order kept)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def text_cells(nb: dict) -> dict[str, str]:
    """The English notebook's markdown cells, ``{cell id: source}`` in notebook order."""
    return {c["id"]: source_text(c) for c in nb["cells"] if c["cell_type"] == "markdown"}


def english_notebooks(notebooks: Path = NOTEBOOKS) -> list[Path]:
    """The course's chapters: ``notebooks/NN_*.ipynb``."""
    return sorted(Path(notebooks).glob("[0-9][0-9]_*.ipynb"))


def translation_file(notebook: Path, translations: Path = TRANSLATIONS, language: str = LANGUAGE) -> Path:
    return Path(translations) / language / f"{Path(notebook).stem}.json"


def read_translations(path: Path) -> dict[str, dict]:
    """``{cell id: {"source_sha256": ..., "text": ...}}`` from a translation file (``{}`` if there is none)."""
    path = Path(path)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for cell_id, entry in data.get("cells", {}).items():
        text = entry.get(LANGUAGE, "")
        out[cell_id] = {"source_sha256": entry.get("source_sha256"),
                        "text": text if isinstance(text, str) else "".join(text)}
    return out


def write_translations(path: Path, notebook: Path, entries: dict[str, dict], order: list[str]) -> None:
    """Write ``entries`` (as :func:`read_translations` gives them): cells in notebook order, then orphans."""
    ordered = [i for i in order if i in entries] + [i for i in entries if i not in order]
    try:
        name = Path(notebook).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        name = Path(notebook).name
    data = {"notebook": name, "language": LANGUAGE,
            "cells": {i: {"source_sha256": entries[i]["source_sha256"], LANGUAGE: lines(entries[i]["text"])}
                      for i in ordered}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# ---- status --------------------------------------------------------------------------------------------------------

@dataclass
class Status:
    """Where one notebook's translation stands; every list holds cell ids in notebook order."""

    notebook: str
    cells: int = 0  # markdown cells of the English notebook
    current: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # translated from an English text that has changed since
    missing: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)  # translations of cells the English notebook no longer has

    @property
    def complete(self) -> bool:
        return not (self.stale or self.missing or self.orphaned)


def status(nb: dict, translations: dict[str, dict], name: str = "") -> Status:
    """Compare an English notebook's markdown cells with their stored translations."""
    english = text_cells(nb)
    s = Status(name, cells=len(english))
    for cell_id, text in english.items():
        entry = translations.get(cell_id)
        if entry is None:
            s.missing.append(cell_id)
        elif entry["source_sha256"] != sha256(text):
            s.stale.append(cell_id)
        else:
            s.current.append(cell_id)
    all_ids = {c["id"] for c in nb["cells"]}
    s.orphaned = [i for i in translations if i not in all_ids or i not in english]
    return s


# ---- generating ----------------------------------------------------------------------------------------------------

_LINK = re.compile(r"(\]\(|\bsrc=\")([^)\"\s]+)")


def relink(text: str, translated: set[str]) -> str:
    """Relative links of a text moved from ``notebooks/`` into ``notebooks/zh/``: a chapter with a Chinese
    version (its file name in ``translated``) stays in this folder, anything else gets ``../``."""
    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target, re.I):
            return m.group(0)  # a URL, an anchor or an absolute path
        if target.split("#")[0] in translated:
            return m.group(0)
        return m.group(1) + "../" + target
    return _LINK.sub(fix, text)


def generate(nb: dict, translations: dict[str, dict], translated: set[str] = frozenset(),
             source: str = "") -> dict:
    """The Chinese notebook of English notebook ``nb``: code cells copied exactly, every cell id kept, each
    markdown cell replaced by its current translation, or by its English text under :data:`MISSING_NOTE` or
    :data:`STALE_NOTE`. ``translated``: the file names of the chapters that have a Chinese version (links to
    others go to the English one, :func:`relink`); ``source``: the English notebook's path, recorded in the
    notebook's metadata."""
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        english = source_text(cell)
        entry = translations.get(cell["id"])
        if entry is None:
            text = f"{MISSING_NOTE}\n\n{english}"
        elif entry["source_sha256"] != sha256(english):
            text = f"{STALE_NOTE}\n\n{english}"
        else:
            text = entry["text"]
        cell["source"] = lines(relink(text, set(translated)))
    out["metadata"]["fsl_course"] = {
        "language": LANGUAGE, "generated_from": source,
        "note": "generated by 'fsl-course translate build' from the English notebook and translations/zh/; "
                "edit those, not this file"}
    return out


def build(notebooks: Path = NOTEBOOKS, translations: Path = TRANSLATIONS, out_dir: Path | None = None,
          write: bool = True) -> dict[Path, str]:
    """The Chinese notebook of every English chapter that has a translation file, ``{path: text}``; written
    into ``out_dir`` (default ``notebooks/zh/``) unless ``write`` is false. Chinese notebooks there without a
    translation file any more are removed."""
    out_dir = Path(out_dir) if out_dir else Path(notebooks) / LANGUAGE
    chapters = [p for p in english_notebooks(notebooks) if translation_file(p, translations).is_file()]
    translated = {p.name for p in chapters}
    made = {}
    for path in chapters:
        try:
            name = path.resolve().relative_to(REPO_ROOT).as_posix()
        except ValueError:
            name = path.name
        nb = generate(read_notebook(path), read_translations(translation_file(path, translations)), translated,
                      name)
        made[out_dir / path.name] = dumps(nb)
    if write:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path, text in made.items():
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        for old in out_dir.glob("[0-9][0-9]_*.ipynb"):
            if old not in made:
                old.unlink()
    return made


def stamp(notebook: Path, cell_ids: list[str], translations: Path = TRANSLATIONS) -> list[str]:
    """Record that the translations of ``cell_ids`` are up to date with the English notebook's current text
    (run it after updating them): their hashes become the current English sources'. Returns the ids stamped."""
    nb = read_notebook(notebook)
    english = text_cells(nb)
    path = translation_file(notebook, translations)
    entries = read_translations(path)
    for cell_id in cell_ids:
        if cell_id not in english:
            raise ValueError(f"{Path(notebook).name} has no markdown cell {cell_id!r}")
        if cell_id not in entries:
            raise ValueError(f"{path} has no translation of cell {cell_id!r}: add it first")
        entries[cell_id]["source_sha256"] = sha256(english[cell_id])
    write_translations(path, notebook, entries, list(english))
    return list(cell_ids)


# ---- the glossary --------------------------------------------------------------------------------------------------

def _term_pattern(term: str) -> re.Pattern:
    words = [re.escape(w) for w in re.split(r"[\s-]+", term)]
    body = r"[\s-]+".join(words).replace(r"data[\s-]+set", r"data[\s-]*set")
    return re.compile(rf"(?<![\w-]){body}(?:e?s)?(?![\w-])", re.I)


def _prose(text: str) -> str:
    """Markdown without what is not prose: inline code (but the text of roles such as {term}`...`), link
    targets, math, and directive option lines."""
    text = re.sub(r"^```.*$|^:\w[\w-]*:.*$", "", text, flags=re.M)
    text = re.sub(r"(\{[^}\s]+\})?`((?:[^`\n]|\n(?!\s*\n))*)`", lambda m: m.group(0) if m.group(1) else " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", " ", text, flags=re.S)
    return text


def glossary_misses(english: str, chinese: str) -> list[tuple[str, str]]:
    """The ``(English term, Chinese term)`` pairs of :data:`GLOSSARY_ZH` whose English term the English text
    uses while the Chinese text lacks the Chinese term."""
    prose = _prose(english)
    return [(en, zh) for en, zh in GLOSSARY_ZH.items()
            if _term_pattern(en).search(prose) and zh.lower() not in chinese.lower()]


# ---- the website's pages and the Chinese site ----------------------------------------------------------------------
#
# The book's own pages (book/intro.md, book/glossary.md, ...) are translated whole: book/zh/NAME.md is the Chinese
# page, written by hand, whose first line records the English page and the SHA-256 of the text it was translated
# from (:data:`PAGE_HEADER`); a page whose English text has changed since is stale (:func:`page_status`), and
# ``fsl-course translate stamp book/NAME.md`` records the current hash after the update. The Chinese site's
# table of contents and configuration are generated from the English ones (:func:`site_files`), so that the
# two sites list the same pages in the same order and differ only where the language does.

BOOK = REPO_ROOT / "book"
#: The first line of a Chinese page: a MyST comment naming the English page and the hash it was translated from.
PAGE_HEADER = "% translation of {page} · source_sha256 {sha}"
_PAGE_HEADER = re.compile(r"\A% translation of (\S+) · source_sha256 (\S+)[ \t]*\n")
#: The Chinese site's words where the English configuration and table of contents have their own.
SITE_ZH = {
    "title": "少样本学习实战",
    "captions": {"The course": "课程", "Reference": "参考"},
    "footer": "<p>本课程的代码与文字以 MIT 许可发布；Omniglot（Lake、Salakhutdinov 与 Tenenbaum，2015）以 MIT 许可发布。"
              "构建自 <a href=\"https://github.com/fsl-course/fsl-course\">github.com/fsl-course/fsl-course</a>。"
              "</p>\n",
}


def english_pages(toc: Path | None = None) -> list[Path]:
    """The book's own pages (``book/*.md``) that the English table of contents lists, in its order."""
    import yaml

    data = yaml.safe_load(Path(toc or BOOK / "_toc.yml").read_text(encoding="utf-8"))
    files = [data["root"]] + [c["file"] for part in data.get("parts", []) for c in part.get("chapters", [])]
    return [REPO_ROOT / f"{f}.md" for f in files if f.startswith("book/") and "/" not in f[len("book/"):]]


def page_translation(page: Path) -> Path:
    """Where the translation of the English page ``book/NAME.md`` lives: ``book/zh/NAME.md``."""
    return BOOK / LANGUAGE / Path(page).name


def _page_name(page: Path) -> str:
    return Path(page).resolve().relative_to(REPO_ROOT).as_posix()


def read_page_translation(page: Path) -> tuple[str | None, str] | None:
    """``(recorded hash, Chinese text after the header line)`` of a page's translation, or None if it has none.
    A file without the header, or whose header names another page, is an error that says what to write."""
    path = page_translation(page)
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    m = _PAGE_HEADER.match(text)
    if not m or m.group(1) != _page_name(page):
        raise ValueError(f"{path.relative_to(REPO_ROOT)}: its first line must be "
                         f"'{PAGE_HEADER.format(page=_page_name(page), sha='...')}' (then run "
                         f"'fsl-course translate stamp {_page_name(page)}')")
    return m.group(2), text[m.end():]


def page_status(page: Path) -> str:
    """``"current"``, ``"stale"`` (the English page changed since it was translated, or was never stamped) or
    ``"missing"``."""
    found = read_page_translation(page)
    if found is None:
        return "missing"
    return "current" if found[0] == sha256(Path(page).read_text(encoding="utf-8")) else "stale"


def stamp_page(page: Path) -> Path:
    """Record that ``book/zh/NAME.md`` is translated from the current English ``book/NAME.md``."""
    found = read_page_translation(page)
    if found is None:
        raise ValueError(f"{page_translation(page).relative_to(REPO_ROOT)} does not exist: translate "
                         f"{_page_name(page)} into it first")
    header = PAGE_HEADER.format(page=_page_name(page), sha=sha256(Path(page).read_text(encoding="utf-8")))
    path = page_translation(page)
    path.write_text(f"{header}\n{found[1]}", encoding="utf-8")
    return path


def _zh_docname(docname: str) -> str:
    """The Chinese site's document for an English one: ``notebooks/X`` -> ``notebooks/zh/X``, ``book/X`` ->
    ``book/zh/X``."""
    folder, _, name = docname.rpartition("/")
    return f"{folder}/{LANGUAGE}/{name}"


def site_toc(english_toc: str) -> str:
    """The Chinese site's table of contents: the English one with every document replaced by its Chinese
    version and the captions translated."""
    import yaml

    data = yaml.safe_load(english_toc)
    data["root"] = _zh_docname(data["root"])
    for part in data.get("parts", []):
        part["caption"] = SITE_ZH["captions"].get(part.get("caption"), part.get("caption"))
        for chapter in part.get("chapters", []):
            chapter["file"] = _zh_docname(chapter["file"])
    return ("# The Chinese site's table of contents, generated from book/_toc.yml by 'fsl-course translate "
            "build'\n# (fsl_course.translation.site_toc): edit that file, not this one.\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def site_config(english_config: str) -> str:
    """The Chinese site's Jupyter Book configuration: the English one with the Chinese title, footer, language
    and address (``zh/`` below the English site), and the language links pointing back at the English site."""
    import yaml

    data = yaml.safe_load(english_config)
    data["title"] = SITE_ZH["title"]
    data["html"]["baseurl"] = data["html"]["baseurl"].rstrip("/") + f"/{LANGUAGE}/"
    data["html"]["extra_footer"] = SITE_ZH["footer"]
    sphinx = data["sphinx"]
    # local extensions are found relative to the configuration file, one folder deeper here
    sphinx["local_extensions"] = {k: f"../{v}" for k, v in sphinx["local_extensions"].items()}
    sphinx["config"]["language"] = "zh_CN"
    sphinx["config"]["course_language"] = LANGUAGE
    # the button of a folded code cell (the course folds only cells' input: "hide-input", the first cell)
    sphinx["config"]["nb_code_prompt_show"] = "显示代码"
    sphinx["config"]["nb_code_prompt_hide"] = "隐藏代码"
    return ("# The Chinese site's configuration, generated from book/_config.yml by 'fsl-course translate "
            "build'\n# (fsl_course.translation.site_config): edit that file, not this one.\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120))


def site_files() -> dict[Path, str]:
    """``{path: text}`` of the Chinese site's generated files: ``book/zh/_toc.yml`` and ``book/zh/_config.yml``."""
    return {BOOK / LANGUAGE / "_toc.yml": site_toc((BOOK / "_toc.yml").read_text(encoding="utf-8")),
            BOOK / LANGUAGE / "_config.yml": site_config((BOOK / "_config.yml").read_text(encoding="utf-8"))}
