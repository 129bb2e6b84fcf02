"""The data commands of ``fsl-course``: ``download``."""

from __future__ import annotations

import sys


def _cmd_download(args) -> int:
    from fsl_course.data.download import DownloadError, download_omniglot

    try:
        download_omniglot(args.root, source=args.source)
    except DownloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def add_commands(sub) -> None:
    """Add ``download`` to the ``fsl-course`` sub-command parsers."""
    d = sub.add_parser("download", help="fetch a data set (verified, extracted atomically)")
    d.add_argument("dataset", choices=["omniglot"])
    d.add_argument("--from", dest="source", help="a local folder (or base URL) holding the same files")
    d.add_argument("--root", help="data folder (default: FSL_COURSE_DATA or ~/.cache/fsl_course)")
    d.set_defaults(func=_cmd_download)
