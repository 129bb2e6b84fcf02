"""Colab and Binder: the notebooks' first cell installs the course only where it is missing (run here with a
fake installer, no network), and the Binder environment agrees with pyproject.toml."""

from __future__ import annotations

import builtins
import json
import os
import sys
import tomllib
import types
from pathlib import Path

import pytest

from fsl_course import colab

REPO = Path(__file__).resolve().parent.parent


def run_first_cell(monkeypatch, course_installed: bool) -> tuple[list, list]:
    """Execute :data:`colab.FIRST_CELL` as a notebook would, with a fake ``subprocess`` (the installer) and a
    fake :func:`colab.fetch_data`; where ``course_installed`` is false, ``import fsl_course`` fails until the
    installer has run. Returns ``(the installer's calls, fetch_data's calls)``."""
    installs, fetches = [], []
    monkeypatch.setitem(sys.modules, "subprocess", types.SimpleNamespace(check_call=lambda argv: installs.append(argv)))
    monkeypatch.setattr(colab, "fetch_data", lambda: fetches.append(True))
    monkeypatch.setattr(sys, "path", list(sys.path))  # the cell puts the clone on the path
    real_import = builtins.__import__

    def importer(name, *args, **kwargs):
        if name.split(".")[0] == "fsl_course" and not course_installed and not installs:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    namespace = {"__builtins__": {**vars(builtins), "__import__": importer}}
    exec(compile(colab.FIRST_CELL, "<first cell>", "exec"), namespace)
    return installs, fetches


def test_the_first_cell_installs_the_course_and_fetches_omniglot_where_the_course_is_missing(monkeypatch):
    installs, fetches = run_first_cell(monkeypatch, course_installed=False)
    assert installs == [["git", "clone", "-q", "--depth", "1", "https://github.com/fsl-course/fsl-course"],
                        [sys.executable, "-m", "pip", "install", "-q", "-e", "fsl-course"]]
    assert sys.path[0] == os.path.abspath("fsl-course")  # the editable install, seen by this very kernel
    assert fetches == [True]


def test_the_first_cell_does_nothing_where_the_course_is_installed(monkeypatch):
    assert run_first_cell(monkeypatch, course_installed=True) == ([], [])


def test_the_first_cell_is_plain_python_with_the_standard_library_before_the_install():
    before = colab.FIRST_CELL.split("fsl_course.colab.fetch_data")[0]
    imported = {word.strip(",") for line in before.splitlines() if line.strip().startswith("import ")
                for word in line.split()[1:]}
    assert imported == {"fsl_course", "fsl_course.colab", "os", "subprocess", "sys"}
    assert len(colab.FIRST_CELL.splitlines()) <= 10 and max(map(len, colab.FIRST_CELL.splitlines())) <= 100


def test_fetch_data_moves_into_the_notebooks_folder_and_fetches_omniglot(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    calls = []
    colab.fetch_data(download=lambda: calls.append(Path.cwd()))
    assert calls == [REPO / "notebooks"] and "Omniglot" in capsys.readouterr().out


def test_every_notebook_starts_with_the_first_cell():
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        assert "".join(cells[0]["source"]).strip() == colab.FIRST_CELL, f"{path.name}: the first code cell differs"


def test_binder_environment_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line.strip() and not line.startswith("#")]
    assert requirements == project["dependencies"] + project["optional-dependencies"]["lab"]
    post_build = REPO / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK) and post_build.read_text().startswith("#!/bin/bash\n")
    steps = [line for line in post_build.read_text().splitlines() if line and not line.startswith(("#", "set "))]
    assert steps == ["pip install --no-deps -e .", "fsl-course download omniglot"]
