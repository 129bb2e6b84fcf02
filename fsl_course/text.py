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


def source(obj, start: str | None = None, stop: str | None = None) -> str:
    """The source of the function or class ``obj`` as a page shows it: without its docstring (the page explains
    what it does), or, with ``start``, only the excerpt from the first line containing ``start`` to the first
    line after it containing ``stop`` (to the end without ``stop``), dedented. A marker that is not in the
    source raises ``ValueError``, so a page never silently shows the wrong lines."""
    import ast
    import inspect

    lines = textwrap.dedent(inspect.getsource(obj)).splitlines()
    if start is None:
        node = ast.parse("\n".join(lines)).body[0]
        body = getattr(node, "body", [])
        doc = body[0] if body and isinstance(body[0], ast.Expr) and isinstance(
            getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str) else None
        if doc is not None:
            lines = lines[:doc.lineno - 1] + lines[doc.end_lineno:]
        return "\n".join(lines)
    first = next((i for i, line in enumerate(lines) if start in line), None)
    if first is None:
        raise ValueError(f"{start!r} is not in the source of {obj.__qualname__}")
    last = len(lines) - 1
    if stop is not None:
        last = next((i for i in range(first, len(lines)) if stop in lines[i]), None)
        if last is None:
            raise ValueError(f"{stop!r} is not in the source of {obj.__qualname__} after {start!r}")
    return textwrap.dedent("\n".join(lines[first:last + 1]))
