"""The project's own files agree with each other: conda environment, pyproject, CI, README, CLI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from fsl_course.cli import build_parser, main

REPO = Path(__file__).resolve().parent.parent


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    extras = project["optional-dependencies"]
    assert set(pip) - {"-e ."} == set(project["dependencies"] + extras["lab"] + extras["dev"])
    assert "-e ." in pip
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    low = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, python.split("=")[1].split("."))) >= tuple(map(int, low.split(".")))


def test_ci_runs_the_readme_commands():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    for command in ("bash course.sh", "bash course.sh test"):
        assert re.search(rf"^{re.escape(command)}\s*(#.*)?$", readme, re.M), f"README lacks {command!r}"
        assert re.search(rf"^{re.escape(command)}\s*$", ci, re.M), f".ci/run lacks {command!r}"


def test_console_script_is_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["fsl-course"] == "fsl_course.cli:main"


def test_cli_help_and_bad_arguments(capsys):
    assert "download" in build_parser().format_help() and "evaluate" in build_parser().format_help()
    with pytest.raises(SystemExit) as e:
        main(["download", "mnist"])
    assert e.value.code == 2 and "invalid choice: 'mnist'" in capsys.readouterr().err
