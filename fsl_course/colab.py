"""Running a chapter where the course is not installed: a fresh Colab runtime (Binder installs it at build time).

Every notebook's first code cell is :data:`FIRST_CELL`. Where the course package is installed it does nothing;
where it is missing (``import fsl_course`` fails) it pip-installs the course from the project's repository
(:data:`PIP_SPEC`), then calls :func:`fetch_data`, which fetches Omniglot from its official URLs with the
course's own downloader (checksums, atomic and safe extraction), and the chapter carries on. The cell cannot
import the package before installing it, so its first step is plain Python with the standard library alone;
its text lives here so that one test can check every notebook's first cell against it, and another runs it
with a fake installer (no network).
"""

from __future__ import annotations

REPOSITORY = "https://github.com/fsl-course/fsl-course"
PIP_SPEC = f"git+{REPOSITORY}"

#: The first code cell of every notebook, exactly (standard library only until the course is installed).
FIRST_CELL = f"""\
# In Colab (or any runtime without the course): install the course and fetch Omniglot; else nothing.
try:
    import fsl_course
except ImportError:
    import subprocess, sys
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.check_call(pip + ["{PIP_SPEC}"])
    import fsl_course.colab
    fsl_course.colab.fetch_data()"""


def fetch_data(download=None) -> None:
    """Fetch Omniglot into the data folder (``FSL_COURSE_DATA``) from its official URLs, as ``fsl-course download
    omniglot`` does (files already in place are kept). ``download``: the downloader (tests pass a fake one)."""
    if download is None:
        from fsl_course.data.download import download_omniglot as download
    print(f"The course is installed from {REPOSITORY}; fetching Omniglot (about 20 MB) ...")
    download()
