"""``python -m fsl_course.cli``: the same as ``fsl-course``."""

import sys

from fsl_course.cli import main

sys.exit(main())
