"""The shipped checkpoints still give the results recorded beside them, and the README shows those results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fsl_course.cli import evaluate_checkpoint
from fsl_course.data.runs import score_runs
from fsl_course.evaluate import parse_setting
from fsl_course.report import readme_block, results_markdown

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
TESTED = sorted(CHECKPOINTS.glob("*.test.json"))
RUNS = sorted(CHECKPOINTS.glob("*.runs.json"))


def test_protonet_checkpoints_are_shipped_with_their_metrics():
    names = {p.name[: -len(".test.json")] for p in TESTED}
    assert "protonet_omniglot_1shot" in names
    for name in names:
        assert (CHECKPOINTS / f"{name}.pt").is_file() and (CHECKPOINTS / f"{name}.json").is_file()
        assert (CHECKPOINTS / f"{name}.check.json").is_file()


@pytest.mark.parametrize("test_file", TESTED, ids=lambda p: p.name)
def test_reevaluation_agrees_with_recorded_metrics(test_file):
    name = test_file.name[: -len(".test.json")]
    full = json.loads(test_file.read_text())
    check = json.loads((CHECKPOINTS / f"{name}.check.json").read_text())
    settings = [parse_setting(k) for k in check["results"]]
    n = next(iter(check["results"].values()))["episodes"]
    again = evaluate_checkpoint(CHECKPOINTS / f"{name}.pt", check["protocol"], settings, n, progress=False)
    for key, result in again.items():
        recorded, headline = check["results"][key], full["results"][key]
        # the same episodes give the same accuracy (up to rare float ties on another machine)...
        assert result.mean == pytest.approx(recorded["accuracy"], abs=0.3), key
        # ...and the small set agrees with the 1000-episode headline within their intervals
        assert abs(result.mean - headline["accuracy"]) <= result.ci95 + headline["ci95"], key


@pytest.mark.parametrize("runs_file", RUNS, ids=lambda p: p.name)
def test_official_runs_error_is_reproduced(runs_file):
    recorded = json.loads(runs_file.read_text())
    again = score_runs(CHECKPOINTS / f"{runs_file.name[: -len('.runs.json')]}.pt")
    assert again["error"] == pytest.approx(recorded["error"], abs=0.5)  # 0.25 % = one drawing of 400


def test_readme_results_block_is_generated_from_the_metrics_files():
    assert readme_block() == results_markdown(CHECKPOINTS), \
        "README results are stale or edited by hand: run `fsl-course report --readme README.md`"
