"""The website's configuration (book/) agrees with the notebooks, the project and itself.

Fast and offline: reads files only, never builds the book. The built site is tested in a browser by
book/test_site.py, which `bash course.sh book` runs after building.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BOOK = REPO / "book"
REPOSITORY = "https://github.com/fsl-course/fsl-course"

REQUIRED_REFERENCES = {  # what the course must cite: key -> (first author's family name, year)
    "vinyals2016matching": ("Vinyals", 2016), "snell2017prototypical": ("Snell", 2017),
    "finn2017maml": ("Finn", 2017), "sung2018relation": ("Sung", 2018), "radford2021clip": ("Radford", 2021),
    "lake2015human": ("Lake", 2015), "lake2019omniglot": ("Lake", 2019), "chen2019closer": ("Chen", 2019),
    "tian2020rethinking": ("Tian", 2020), "raghu2020rapid": ("Raghu", 2020),
    "cherti2023scaling": ("Cherti", 2023), "ilharco2021openclip": ("Ilharco", 2021),
    "nichol2018firstorder": ("Nichol", 2018),
}
REQUIRED_TERMS = ["episode", "support set", "query set", "n-way", "k-shot", "prototype", "meta-learning",
                  "zero-shot", "prompt ensembling"]


def config() -> dict:
    return yaml.safe_load((BOOK / "_config.yml").read_text())


def toc() -> dict:
    return yaml.safe_load((BOOK / "_toc.yml").read_text())


def toc_files() -> list[str]:
    t = toc()
    files = [t["root"]]
    for part in t["parts"]:
        for chapter in part["chapters"]:
            files.append(chapter["file"])
            files.extend(s["file"] for s in chapter.get("sections", []))
    return files


def notebooks() -> list[Path]:
    return sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def markdown_sources() -> dict[str, str]:
    """The text of every markdown page of the book and every notebook's markdown cells."""
    sources = {p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8") for p in BOOK.glob("*.md")
               if p.name != "README.md"}
    for path in notebooks():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources[path.relative_to(REPO).as_posix()] = "\n\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return sources


def bib_entries() -> dict[str, str]:
    text = (BOOK / "references.bib").read_text(encoding="utf-8")
    entries = {}
    for m in re.finditer(r"^@(\w+)\{([^,\s]+),(.*?)^\}", text, re.M | re.S):
        assert m.group(2) not in entries, f"duplicate bibliography key {m.group(2)}"
        entries[m.group(2)] = m.group(3)
    return entries


def bib_field(body: str, name: str) -> str | None:
    m = re.search(rf"^\s*{name}\s*=\s*(\{{.*?\}}|\d+|\w+)\s*,?\s*$", body, re.M | re.I)
    return m.group(1).strip("{}") if m else None


# ---- table of contents -------------------------------------------------------------------------------------------

def test_every_notebook_is_a_chapter_in_order_and_only_those():
    files = toc_files()
    chapters = [f for f in files if f.startswith("notebooks/")]
    on_disk = [p.relative_to(REPO).with_suffix("").as_posix() for p in notebooks()]
    assert chapters == on_disk, ("book/_toc.yml must list exactly the notebooks in notebooks/, in order "
                                 f"(missing: {sorted(set(on_disk) - set(chapters))}, "
                                 f"not on disk: {sorted(set(chapters) - set(on_disk))})")
    assert len(files) == len(set(files)), "a page appears twice in book/_toc.yml"


def test_every_toc_file_exists():
    for name in toc_files():
        found = [p for p in (REPO / f"{name}.md", REPO / f"{name}.ipynb") if p.is_file()]
        assert len(found) == 1, f"book/_toc.yml names {name}, which is not exactly one .md or .ipynb file"
    assert toc()["format"] == "jb-book" and toc()["root"] == "book/intro"


def test_course_map_lists_every_chapter():
    """The introduction's course map names each notebook (a new one appears there once it is in the toc)."""
    intro = (BOOK / "intro.md").read_text(encoding="utf-8")
    block = re.search(r"```\{course-map\}\n(.*?)\n```", intro, re.S)
    assert block, "book/intro.md has no course-map directive"
    entries = yaml.safe_load(block.group(1))
    mapped = [e["file"] for e in entries]
    assert mapped == sorted(mapped), "the course map is not in notebook order"
    for chapter in (f for f in toc_files() if f.startswith("notebooks/")):
        assert chapter in mapped, f"the course map in book/intro.md lacks {chapter}"
    assert len({m.split("/")[-1][:2] for m in mapped}) == len(mapped) == 12, "the map should list notebooks 00-11"


# ---- configuration -----------------------------------------------------------------------------------------------

def test_execution_runs_every_notebook_and_fails_on_errors():
    execute = config()["execute"]
    # every notebook runs at each build: the execution cache (shared with the Chinese site, which so runs none
    # again) lives in book/_build, which `bash course.sh book` empties before it builds
    assert execute["execute_notebooks"] == "cache" and execute["cache"] == "book/_build/.jupyter_cache"
    course = (REPO / "course.sh").read_text(encoding="utf-8")
    build = course[course.index("build_book() {"):]
    assert build.index("rm -rf book/_build") < build.index("jupyter-book\" build")
    assert execute["allow_errors"] is False and execute["raise_on_error"] is True
    assert execute.get("exclude_patterns", []) == [], "no notebook may be left unexecuted"
    assert execute["timeout"] >= 300
    assert config()["only_build_toc_files"] is True


def test_repository_launch_and_copyright_point_at_this_project():
    c = config()
    assert c["repository"]["url"] == REPOSITORY
    assert c["repository"]["path_to_book"] == "", "the book's source folder is the repository root"
    assert c["repository"]["branch"] == "main"
    assert c["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert c["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert c["html"]["baseurl"].startswith("https://fsl-course.github.io/fsl-course")
    license_line = next(line for line in (REPO / "LICENSE").read_text().splitlines() if "Copyright" in line)
    year, holder = re.search(r"Copyright \(c\) (\d{4}) (.+)", license_line).groups()
    assert str(c["copyright"]) == year and c["author"] == holder, \
        f"the footer must match LICENSE ({license_line!r})"


def test_offline_assets_are_local_and_not_in_a_folder_named_static():
    sphinx = config()["sphinx"]["config"]
    assert "://" not in sphinx["mathjax_path"] and sphinx["mathjax_path"].startswith("mathjax/")
    assert sphinx["nb_ipywidgets_js"], "the widget manager's files must be named (else myst-nb uses a CDN)"
    for url in sphinx["nb_ipywidgets_js"]:
        assert "://" not in url and not url.startswith("//"), f"{url} is not a vendored file"
    static = sphinx["html_static_path"]
    assert static == ["book/vendor", "book/assets"], static
    assert list(sphinx["nb_ipywidgets_js"]) == ["requirejs/require.js", "widgets-setup.js",
                                                 "html-manager/embed-amd.js"], "RequireJS, the setup, the manager"
    assert (BOOK / "assets" / "widgets-setup.js").is_file()
    assert not (REPO / "_static").exists(), \
        "a _static folder in the book's source folder makes Jupyter Book add every .js file in it to every page"
    vendor = (REPO / "book" / "vendor.sh").read_text()
    for path in ("mathjax", "html-manager", "requirejs"):
        assert path in vendor


def test_npm_pins_mathjax_3_and_the_widget_manager():
    package = json.loads((BOOK / "package.json").read_text())
    lock = json.loads((BOOK / "package-lock.json").read_text())
    deps = package["dependencies"]
    assert set(deps) == {"mathjax", "@jupyter-widgets/html-manager", "requirejs"}
    assert deps["mathjax"].lstrip("^~").startswith("3.")
    assert lock["packages"][""]["dependencies"] == deps, "package-lock.json is out of date: npm install --prefix book"
    for name in deps:
        assert f"node_modules/{name}" in lock["packages"], f"{name} is not in package-lock.json"
    ignored = (REPO / ".gitignore").read_text().split()
    for path in ("book/node_modules/", "book/vendor/", "book/_build/"):
        assert path in ignored, f"{path} must be ignored by git"


def test_sphinx_exercise_and_bibtex_are_configured():
    c = config()
    assert "sphinx_exercise" in c["sphinx"]["extra_extensions"]
    assert c["bibtex_bibfiles"] == ["book/references.bib"]
    pyproject = (REPO / "pyproject.toml").read_text()
    book_extra = re.search(r"^book = \[(.*)\]$", pyproject, re.M).group(1)
    for package in ("jupyter-book", "sphinx-exercise", "playwright"):
        assert package in book_extra


# ---- bibliography, glossary, citations ---------------------------------------------------------------------------

def test_bibliography_has_the_papers_the_course_teaches():
    entries = bib_entries()
    for key, (author, year) in REQUIRED_REFERENCES.items():
        assert key in entries, f"references.bib lacks {key}"
        body = entries[key]
        assert bib_field(body, "year") == str(year), f"{key}: year"
        assert re.search(rf"author\s*=\s*\{{\s*{author},", body), f"{key}: first author should be {author}"
        assert bib_field(body, "title"), f"{key}: no title"
    for key, body in entries.items():
        assert bib_field(body, "author") or "author" in body, f"{key}: no author"
        assert any(bib_field(body, f) for f in ("journal", "booktitle", "howpublished", "institution",
                                                "publisher", "eprint")), f"{key}: where was it published?"


def test_every_citation_resolves():
    keys = set(bib_entries())
    for source, text in markdown_sources().items():
        for m in re.finditer(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            for key in m.group(1).split(","):
                assert key.strip() in keys, f"{source} cites {key.strip()!r}, which is not in references.bib"


def glossary_terms() -> set[str]:
    text = (BOOK / "glossary.md").read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S).group(1)
    return {line.strip().lower() for line in block.splitlines() if line.strip() and not line.startswith(" ")}


def test_glossary_defines_the_course_terms():
    terms = glossary_terms()
    for term in REQUIRED_TERMS:
        assert term in terms, f"the glossary lacks {term!r}"
    for source, text in markdown_sources().items():
        for m in re.finditer(r"\{term\}`([^`]+)`", text):
            target = re.search(r"<([^>]+)>$", m.group(1))
            term = (target.group(1) if target else m.group(1)).strip().lower()
            assert term in terms, f"{source} links the undefined glossary term {term!r}"


# ---- exercises ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_exercise_directives_are_well_formed(path):
    """Converted notebooks: labelled exercises, each solution gated by start/end and naming its exercise.

    The book folds a gated solution into its dropdown; JupyterLab (jupyterlab-myst) folds only the markdown
    inside the start cell, so every code cell of a solution is collapsed there by its own metadata
    (``jupyter.source_hidden``/``outputs_hidden``: a bar to click shows the code and, once run, its output).
    """
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    labels, open_solution = set(), None
    for cell in cells:
        if cell["cell_type"] != "markdown":
            hidden = cell["metadata"].get("jupyter", {})
            if open_solution:
                assert hidden.get("source_hidden") and hidden.get("outputs_hidden"), (
                    f"a code cell of the solution of {open_solution} shows in JupyterLab: set its metadata "
                    '"jupyter": {"source_hidden": true, "outputs_hidden": true}')
            else:
                assert not hidden.get("source_hidden"), "a code cell outside every solution is hidden in JupyterLab"
            continue
        src = "".join(cell["source"])
        for m in re.finditer(r"^(`{3,})\{exercise\}[^\n]*\n:label: (\S+)\n", src, re.M):
            assert m.group(2) not in labels, f"exercise label {m.group(2)} twice"
            labels.add(m.group(2))
        start = re.search(r"^```\{solution-start\} (\S+)", src, re.M)
        if start:
            assert open_solution is None, f"solution of {open_solution} not closed before {start.group(1)}"
            assert start.group(1) in labels, f"solution for unknown exercise {start.group(1)}"
            assert ":class: dropdown" in src, "solutions must be click-to-reveal"
            open_solution = start.group(1)
        if re.search(r"^```\{solution-end\}", src, re.M):
            assert open_solution, "solution-end without solution-start"
            open_solution = None
    assert open_solution is None, f"the solution of {open_solution} is never closed"
    prefix = f"nb{path.name[:2]}-ex"
    assert all(label.startswith(prefix) for label in labels), f"labels must start with {prefix}: {labels}"


# ---- the commands ------------------------------------------------------------------------------------------------

def test_book_command_is_wired_into_course_sh_ci_readme_and_workflow():
    course = (REPO / "course.sh").read_text()
    assert re.search(r"^\s*book\)", course, re.M), "course.sh has no book subcommand"
    assert "book/test_site.py" in course and "book/vendor.sh" in course
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert re.search(r"^bash course.sh book\s*(#.*)?$", readme, re.M), "the README does not give the book command"
    workflow_text = (REPO / ".github" / "workflows" / "book.yml").read_text()
    workflow = yaml.safe_load(workflow_text)
    runs = "\n".join(step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"])
    course_commands = re.compile(r"^\s*(bash course\.sh\b.*?)\s*$", re.M)
    # CI builds and tests the website too, and the workflow that publishes it runs exactly .ci/run's commands
    assert course_commands.findall(ci)[-1:] == ["bash course.sh book"], ".ci/run must build the book last"
    assert course_commands.findall(runs) == course_commands.findall(ci), \
        "the workflow must run the same course.sh commands as .ci/run, in the same order"
    assert "book/_build/html" in workflow_text and "deploy-pages" in workflow_text
