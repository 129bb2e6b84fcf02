"""What every ``fsl-course`` command shares: its parser's help format, and how an option's value is read."""

from __future__ import annotations

import argparse
import json


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, except where there is none to show (None, a flag's False)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.default is argparse.SUPPRESS or "%(default)" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def add_command(sub, name: str, help: str) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` shows ``help`` and every option's default."""
    text = help.replace("%%", "%")
    return sub.add_parser(name, help=help, description=text[0].upper() + text[1:] + ".",
                          formatter_class=HelpFormatter)


def parse_settings(pairs: list[str] | None) -> dict:
    """``["fce=true", "scale=10"]`` -> ``{"fce": True, "scale": 10}`` (values read as JSON, else as text)."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE (for example --set fce=true), got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device``: where a command computes (read by :func:`fsl_course.config.get_device`)."""
    parser.add_argument("--device", default=None, help="cpu, cuda (cuda:N) or mps (default: FSL_COURSE_DEVICE, "
                        "else the best one available: CUDA, then MPS, then the CPU)")


def add_amp_option(parser: argparse.ArgumentParser) -> None:
    """``--amp``: mixed-precision training (:func:`fsl_course.config.autocast`)."""
    parser.add_argument("--amp", action="store_true", help="mixed precision (torch.autocast): bfloat16 on CPUs and "
                        "recent GPUs, float16 with gradient scaling on older ones; faster on a GPU, recorded in "
                        "the run's record")
