"""The gallery: every figure built at the post's settings into one folder, its index pages and
its check against a committed copy.

plan.py says what each figure makes and in what order the figures start, build.py builds them
in the runtime's worker pool, index.py writes README.md and index.html (page.py: the HTML page), check.py validates the
built files and compares them with a committed folder. The names the command line uses are
here too (light: no figure, torch or matplotlib is imported until a build starts).
"""

from ntkviz.gallery.build import build
from ntkviz.gallery.check import (
    byte_report,
    check_reference,
    check_tolerance,
    compare,
    validate,
)
from ntkviz.gallery.plan import SKIPPED

__all__ = [
    "SKIPPED",
    "build",
    "byte_report",
    "check_reference",
    "check_tolerance",
    "compare",
    "validate",
]
