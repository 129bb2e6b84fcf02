"""fsl_course.text.source: the code a page prints, without the docstring or as an excerpt."""

from __future__ import annotations

import pytest

from fsl_course.text import source


def _example(x):
    """A docstring
    on two lines."""
    y = x + 1
    for i in range(3):
        y = y * i
    return y


class _Example:
    """Class docstring."""

    def method(self):
        """Method docstring."""
        return 1


def test_source_drops_the_docstring_and_keeps_the_code():
    assert source(_example) == ("def _example(x):\n    y = x + 1\n    for i in range(3):\n        y = y * i\n"
                                "    return y")
    assert source(_Example.method) == "def method(self):\n    return 1"  # dedented, docstring gone


def test_source_excerpt_runs_from_start_to_stop_dedented():
    assert source(_example, "for i in", "y = y * i") == "for i in range(3):\n    y = y * i"
    assert source(_example, "return y") == "return y"  # no stop: to the end


def test_source_refuses_a_marker_it_cannot_find():
    with pytest.raises(ValueError, match="'while' is not in the source of _example"):
        source(_example, "while")
    with pytest.raises(ValueError, match="'yield' is not in the source of _example after 'for i in'"):
        source(_example, "for i in", "yield")
