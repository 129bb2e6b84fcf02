"""Text as the notebooks print it: wrapped to the width the book's page shows, and counted in good English.

The book's content column shows about 100 characters of a cell's printed output; a longer line is cut off at
the page's edge (readable only by scrolling sideways), so everything the package prints for a notebook goes
through :func:`wrap`.
"""

from __future__ import annotations

import textwrap
from typing import Iterable

#: the widest printed line the book's page shows without scrolling sideways
TEXT_WIDTH = 100


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "  ") -> str:
    """``text`` with every line longer than ``width`` wrapped (continuation lines indented by ``indent``);
    line breaks and lines that fit are kept as they are."""
    return "\n".join(textwrap.fill(line, width, break_on_hyphens=False, break_long_words=False,
                                   subsequent_indent=indent) if len(line) > width else line
                     for line in str(text).split("\n"))


def wrap_list(items: Iterable, width: int = TEXT_WIDTH) -> str:
    """Items comma-separated and wrapped to ``width`` characters (instead of a list's one long line)."""
    return textwrap.fill(", ".join(map(str, items)), width, break_on_hyphens=False, break_long_words=False)


def plural(n: int | float, word: str, many: str | None = None) -> str:
    """``"1 CPU thread"``, ``"2 CPU threads"``: ``n`` and ``word``, in the plural (``many``, else
    ``word + "s"``) unless ``n`` is 1."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
