"""``fsl-course``: download data, train, evaluate, and score the official runs from the command line.

One parser, built by :func:`build_parser`: each group of commands lives in its own module, which adds its
sub-commands with ``add_commands(sub)``: ``data`` (download), ``training`` (train, pretrain),
``evaluation`` (heads, showdown, evaluate, runs, report), ``clip`` (mini-clip) and ``sine`` (the sine-wave toy
of notebook 03).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from fsl_course.cli import clip, data, evaluation, sine, training

GROUPS = (data, training, evaluation, clip, sine)  # in this order in the help


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fsl-course", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = "fsl-course " + shlex.join(argv)  # recorded beside every result file
    return args.func(args)
