"""Running a chapter where the course is not installed: a fresh Colab runtime (Binder installs it at build time).

Every notebook's first code cell is :data:`FIRST_CELL`. Where the course package is installed it does nothing;
where it is missing (``import fsl_course`` fails) it clones the project's repository (:data:`REPOSITORY`: the
package, the shipped checkpoints and the notebooks' files), pip-installs it in editable mode, puts it on this
kernel's path (a kernel that started before the install does not see an editable install), then calls
:func:`fetch_data`, which moves into the clone's ``notebooks/`` folder (where every chapter runs) and fetches
Omniglot from its official URLs with the course's own downloader (checksums, atomic and safe extraction); the
chapter carries on. The cell cannot import the package before installing it, so its first step is plain
Python with the standard library alone; its text lives here so that one test can check every notebook's first
cell against it, and another runs it with a fake installer (no network).
"""

from __future__ import annotations

import os

REPOSITORY = "https://github.com/fsl-course/fsl-course"
CLONE = REPOSITORY.rsplit("/", 1)[1]  # the folder git clones it into, in the runtime's working folder

#: The first code cell of every notebook, exactly (standard library only until the course is installed).
FIRST_CELL = f"""\
# In Colab, or wherever the course is missing: fetch it and Omniglot (elsewhere: nothing).
try:
    import fsl_course
except ImportError:
    import os, subprocess, sys
    subprocess.check_call("git clone -q --depth 1 {REPOSITORY}".split())
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "-e", "{CLONE}"])
    sys.path.insert(0, os.path.abspath("{CLONE}"))  # the kernel started before the install
    import fsl_course.colab
    fsl_course.colab.fetch_data()"""


def fetch_data(download=None) -> None:
    """Move into the course's ``notebooks/`` folder (where every chapter runs) and fetch Omniglot into the data
    folder (``FSL_COURSE_DATA``) from its official URLs, as ``fsl-course download omniglot`` does (files already
    in place are kept). ``download``: the downloader (tests pass a fake one)."""
    from fsl_course.config import REPO_ROOT

    if download is None:
        from fsl_course.data.download import download_omniglot as download
    os.chdir(REPO_ROOT / "notebooks")
    print(f"The course is installed from {REPOSITORY} in {REPO_ROOT}; fetching Omniglot (about 20 MB) ...")
    download()
