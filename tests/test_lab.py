"""JupyterLab, where `bash course.sh` opens the course, renders its MyST markup (the lab extra's extension)."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_myst_extension_is_installed_and_enabled_in_jupyterlab():
    out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True,
                         timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)  # drop the colour codes
    line = next((ln for ln in text.splitlines() if "jupyterlab-myst" in ln and " v" in ln), None)
    assert line is not None, f"jupyterlab-myst is not installed (pip install -e '.[lab]'):\n{text}"
    assert "enabled" in line and "OK" in line, f"jupyterlab-myst is installed but not working:\n{text}"
    assert "not compatible" not in text, text
