"""``fsl-course``: download data, train, evaluate, and score the official runs from the command line.

One parser, built by :func:`build_parser`: each group of commands lives in its own module, which adds its
sub-commands with ``add_commands(sub)``: ``data`` (download), ``training`` (train, pretrain),
``evaluation`` (heads, showdown, evaluate, runs, report), ``clip`` (mini-clip), ``sine`` (the sine-wave toy
of notebook 03) and ``translation`` (translate: the Chinese notebooks).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from fsl_course.cli import clip, data, evaluation, sine, training, translation
from fsl_course.data.download import DownloadError

GROUPS = (data, training, evaluation, clip, sine, translation)  # in this order in the help
DESCRIPTION = ("The few-shot learning course's command line: download data, train and pretrain models, evaluate "
               "them on fixed test episodes, score the official runs, and make the results tables. "
               "'fsl-course COMMAND --help' shows a command's options and their defaults.")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fsl-course", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    return p


#: What a user can cause and fix (a missing file, an impossible setting, a damaged download): one ``error:`` line,
#: no traceback. ``FSL_COURSE_TRACEBACK=1`` shows the traceback too.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, DownloadError)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = "fsl-course " + shlex.join(argv)  # recorded beside every result file
    try:
        return args.func(args)
    except USER_ERRORS as e:
        if os.environ.get("FSL_COURSE_TRACEBACK"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: a training run started again with the same command resumes from its last checkpoint",
              file=sys.stderr)
        return 130
