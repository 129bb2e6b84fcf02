"""The command line as a learner meets it: one `error:` line and a non-zero exit for every mistake a user can make
and fix, never a traceback; `--help` that shows every option's default and the method names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "checkpoints" / "protonet_omniglot_1shot.pt"


def cli(*args, env=None, timeout=300):
    environ = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    environ.pop("FSL_COURSE_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "fsl_course.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=environ, cwd=REPO)


def assert_one_error(result, pattern):
    import re

    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert re.search(pattern, errors[0]), errors[0]


@pytest.mark.parametrize("args, pattern", [
    (["evaluate", "nothing.pt"], r"^error: no checkpoint at nothing\.pt$"),
    (["runs", "README.md"], r"^error: README\.md is not an fsl_course checkpoint"),
    (["evaluate", SHIPPED, "--way", "5", "--shot", "19", "--episodes", "2"], r"shot \+ query = 19 \+ 15 = 34"),
    (["evaluate", SHIPPED, "--protocol", "mini", "--episodes", "2"], r"model of greyscale drawings, but 'mini_test'"),
    (["train", "banana", "--out", "x.pt"], r"invalid choice: 'banana' \(choose from 'baseline', 'maml'"),
    (["train", "protonet", "--set", "fc=1", "--out", "x.pt"], r"protonet has no option 'fc'"),
    (["train", "protonet", "--set", "fc", "--out", "x.pt"], r"--set expects KEY=VALUE"),
    (["train", "protonet", "--episodes", "0", "--out", "x.pt"], r"--episodes: must be at least 1, got 0"),
    (["train", "protonet", "--way", "5000", "--out", "x.pt"], r"way=5000 asks for more classes than 'vinyals_train'"),
    (["train", "protonet", "--shot", "19", "--out", "x.pt"], r"shot \+ query = 19 \+ 5 = 24 images per class"),
    (["train", "maml", "--way", "20", "--out", "x.pt"], r"cannot be trained on 20-way 5-shot episodes: it is a "
                                                       r"5-way MAML model .*--set way=20"),
    (["train", "pixel_nn", "--out", "x.pt"], r"pixel_nn has no parameters to train"),
    (["heads", SHIPPED], r"holds a protonet model; heads are an option of baseline checkpoints"),
    (["evaluate", SHIPPED, "--device", "gpu"], r"^error: unknown device 'gpu': use cpu, cuda"),
    (["train", "protonet", "--device", "xla", "--out", "x.pt"], r"^error: device 'xla' is not one the course runs on"),
    (["showdown", "--device", "gpu"], r"^error: unknown device 'gpu'"),
    (["train", "protonet", "--train-split", "folder:/nowhere", "--out", "x.pt"], r"/nowhere is not a folder"),
    (["download", "omniglot", "--from", "/nowhere", "--root", "ROOT"], r"splits/vinyals/test\.txt"),
    (["download", "mini-imagenet", "--root", "ROOT"], r"^error: mini-ImageNet is not in .*/root/mini-imagenet"),
])
def test_a_user_error_is_one_error_line_without_traceback(args, pattern, tmp_path):
    args = [str(tmp_path / "root") if a == "ROOT" else a for a in args]
    args = [str(tmp_path / a) if a == "x.pt" else a for a in args]
    assert_one_error(cli(*args, env={"FSL_COURSE_MINI_IMAGENET_SOURCE": ""}), pattern)
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "root" / "mini-imagenet").exists()


def test_missing_mini_imagenet_says_how_to_get_it(tmp_path):
    r = cli("download", "mini-imagenet", "--root", tmp_path, env={"FSL_COURSE_MINI_IMAGENET_SOURCE": ""})
    assert "no official download" in r.stderr and "fsl-course download mini-imagenet --from DIR" in r.stderr


def test_the_traceback_is_there_when_asked_for():
    r = cli("evaluate", "nothing.pt", env={"FSL_COURSE_TRACEBACK": "1"})
    r2 = subprocess.run([sys.executable, "-m", "fsl_course.cli", "evaluate", "nothing.pt"], capture_output=True,
                        text=True, env={**os.environ, "FSL_COURSE_TRACEBACK": "1"}, cwd=REPO, timeout=300)
    assert "Traceback" not in r.stderr and "Traceback" in r2.stderr and "FileNotFoundError" in r2.stderr


def test_help_shows_defaults_help_texts_and_the_methods():
    import argparse

    from fsl_course.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"fsl-course {name} {action.option_strings or action.dest}: no help text"
        text = command.format_help()
        assert "``" not in text and ":func:" not in text, f"markup in fsl-course {name} --help"
    train = " ".join(cli("train", "--help").stdout.split())  # the help wraps lines
    for method in ("protonet", "matching", "relation", "maml", "baseline"):
        assert method in train
    assert "(default: 10000)" in train and "(default: vinyals_train)" in train and "(default: None)" not in train
    assert "``" not in cli("--help").stdout
