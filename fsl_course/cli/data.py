"""The data commands of ``fsl-course``: ``download``."""

from __future__ import annotations

from fsl_course.cli.parsing import add_command


def _cmd_download(args) -> int:
    if args.dataset == "mini-imagenet":
        from fsl_course.data.mini_imagenet import download_mini_imagenet

        download_mini_imagenet(args.root, source=args.source)
    else:
        from fsl_course.data.download import download_omniglot

        download_omniglot(args.root, source=args.source)
    return 0


def add_commands(sub) -> None:
    """Add ``download`` to the ``fsl-course`` sub-command parsers."""
    d = add_command(sub, "download", "fetch a data set (verified, extracted atomically)")
    d.add_argument("dataset", choices=["omniglot", "mini-imagenet"],
                   help="omniglot (from its official URLs, or a local copy) or mini-imagenet (from a local copy "
                        "only: it has no official download)")
    d.add_argument("--from", dest="source", help="a local folder holding the files (Omniglot: also a base URL); "
                   "default: FSL_COURSE_OMNIGLOT_SOURCE or FSL_COURSE_MINI_IMAGENET_SOURCE")
    d.add_argument("--root", help="data folder (default: FSL_COURSE_DATA or ~/.cache/fsl_course)")
    d.set_defaults(func=_cmd_download)
