"""Number each chapter's exercises 1, 2, 3, ... as the notebook itself does.

Sphinx numbers enumerable nodes (sphinx-exercise's exercises among them) continuously across an unnumbered
book, so the second chapter's first exercise would be "Exercise 2". After Sphinx has assigned the numbers, this
renumbers the exercises of every page from 1 in page order; the solutions' titles ("Solution to Exercise 2")
follow, since they read the same numbers.
"""

from __future__ import annotations

FIGTYPE = "exercise"


def _renumber(app, env) -> list[str]:
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        numbers = by_type.get(FIGTYPE)
        if not numbers:
            continue
        ordered = sorted(numbers, key=lambda node_id: numbers[node_id])
        renumbered = {node_id: (i,) for i, node_id in enumerate(ordered, start=1)}
        if renumbered != numbers:
            by_type[FIGTYPE] = renumbered
            changed.append(docname)
    return changed


def setup(app):
    app.connect("env-get-updated", _renumber, priority=900)  # after Sphinx's own numbering (priority 500)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
