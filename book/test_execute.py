"""book/execute.py: the book's notebooks executed into Jupyter Book's cache several at a time, before the build.

These run real kernels on tiny notebooks (a few seconds), with a cache in a temporary folder. They need the
website's tools (the book extra), so `bash course.sh book` runs them before it executes anything, and
`bash course.sh test` (tests/ and notebooks/) does not.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

spec = importlib.util.spec_from_file_location("book_execute", REPO / "book" / "execute.py")
book_execute = importlib.util.module_from_spec(spec)
sys.modules["book_execute"] = book_execute  # the pool pickles its worker function by this name
spec.loader.exec_module(book_execute)


def write_book(tmp_path: Path, cells: dict[str, str]) -> tuple[Path, Path, Path]:
    """A config (cache in tmp_path) and a toc of one notebook per entry, each one code cell."""
    for name, code in cells.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    cache = tmp_path / "cache"
    config = tmp_path / "_config.yml"
    config.write_text(yaml.safe_dump({"execute": {"execute_notebooks": "cache", "cache": str(cache),
                                                  "timeout": 60, "allow_errors": False, "run_in_temp": False}}))
    toc = tmp_path / "_toc.yml"
    toc.write_text(yaml.safe_dump({"format": "jb-book", "root": "book/intro",
                                   "chapters": [{"file": str(tmp_path / n)} for n in cells]}))
    return config, toc, cache


def test_the_toc_gives_every_chapter_notebook_in_order():
    found = book_execute.toc_notebooks(REPO / "book" / "_toc.yml")
    assert [p.name for p in found] == sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    zh = book_execute.toc_notebooks(REPO / "book" / "zh" / "_toc.yml")
    assert [p.parent.name for p in zh] == ["zh"] * len(found) and [p.name for p in zh] == [p.name for p in found]


def test_notebooks_run_in_their_own_folder_into_the_cache_the_build_reads(tmp_path, capsys):
    from jupyter_cache import get_cache

    config, toc, cache = write_book(tmp_path, {"a": "import os; print(os.getcwd())", "b": "print(6 * 7)"})
    assert book_execute.main(["--config", str(config), "--toc", str(toc), "--jobs", "2"]) == 0
    assert "executing 2 of 2 notebooks, 2 at a time" in capsys.readouterr().out
    store = get_cache(str(cache))
    # what myst-nb does at build time: match each notebook, as read from its file, to an executed one
    outputs = {}
    for name in "ab":
        record = store.match_cache_notebook(nbformat.read(tmp_path / f"{name}.ipynb", as_version=4))
        outputs[name] = store.get_cache_bundle(record.pk).nb.cells[0].outputs[0]["text"].strip()
    assert outputs == {"a": str(tmp_path), "b": "42"}
    # a second run finds both and executes nothing
    assert book_execute.main(["--config", str(config), "--toc", str(toc)]) == 0
    assert "all 2 notebooks are in the cache already" in capsys.readouterr().out


def test_a_failing_notebook_fails_the_run_with_its_traceback(tmp_path, capsys):
    config, toc, _ = write_book(tmp_path, {"good": "x = 1", "bad": "raise ValueError('the cell broke')"})
    assert book_execute.main(["--config", str(config), "--toc", str(toc), "--jobs", "1"]) == 1
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'bad.ipynb'}: FAILED" in out and f"{tmp_path / 'good.ipynb'}: executed" in out
    assert f"error: {tmp_path / 'bad.ipynb'} failed to execute" in err and "the cell broke" in err


def test_bad_settings_are_refused(tmp_path, capsys):
    config, toc, _ = write_book(tmp_path, {"a": "x = 1"})
    with pytest.raises(SystemExit):
        book_execute.main(["--config", str(config), "--toc", str(toc), "--jobs", "0"])
    assert "--jobs must be at least 1, not 0" in capsys.readouterr().err
    config.write_text(yaml.safe_dump({"execute": {"execute_notebooks": "force", "cache": "c"}}))
    with pytest.raises(SystemExit):
        book_execute.main(["--config", str(config), "--toc", str(toc)])
    assert "does not execute into a cache" in capsys.readouterr().err


def test_course_sh_executes_two_at_a_time_after_emptying_the_build_and_before_building():
    course = (REPO / "course.sh").read_text(encoding="utf-8")
    build = course[course.index("build_book() {"):]
    assert build.index("book/test_execute.py") < build.index("rm -rf book/_build") < build.index("book/execute.py") \
        < build.index("jupyter-book\" build")
