"""The package's layout: no import cycle, each module where the package's docstring says it is."""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path

import pytest

import fsl_course

PACKAGE = Path(fsl_course.__file__).resolve().parent
REPO = PACKAGE.parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules) -> set[str]:
    """The package's modules that ``name`` imports, anywhere in its file (lazy imports in functions too).

    ``import a.b`` and ``from a.b import c`` lead to ``a.b``, or to ``a.b.c`` where that is a module itself;
    the parents that Python imports on the way (``a``) are not counted."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package, up level - 1 more
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                       for alias in node.names]
        else:
            continue
        out.update(t for t in targets if t in modules and t != name)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as ``[a, b, ..., a]``, or None (depth-first search)."""
    state, stack = {}, []  # state: 1 on the current path, 2 done

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_walk_sees_every_kind_of_import(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    code = """import os
import pkg.z
from . import b
from .b import c
from ..x import y, w


def lazy():
    from pkg.sub import d
"""
    (tmp_path / "pkg" / "sub" / "mod.py").write_text(code)
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("from .b import c\nfrom . import mod\n")
    modules = {"pkg", "pkg.z", "pkg.x", "pkg.x.y", "pkg.sub", "pkg.sub.b", "pkg.sub.d", "pkg.sub.mod"}
    assert imports_of("pkg.sub.mod", tmp_path / "pkg" / "sub" / "mod.py", modules) == {
        "pkg.z", "pkg.sub.b", "pkg.x.y", "pkg.x", "pkg.sub.d"}
    assert imports_of("pkg.sub", tmp_path / "pkg" / "sub" / "__init__.py", modules) == {"pkg.sub.b", "pkg.sub.mod"}


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert len(graph) > 20 and any(graph.values())  # the walk saw the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_old_modules_are_gone():
    """No module (or shim) at the paths that the layout replaced: their contents live in widgets/ and cli/."""
    for old in ("widgets.py", "clip_cli.py", "cli.py", "train.py", "pretrain.py", "checkpoints.py", "evaluate.py",
                "report.py", "showdown.py", "sine.py", "scratch.py", "augment.py"):
        assert not (PACKAGE / old).exists(), f"fsl_course/{old} is back"
    assert (PACKAGE / "widgets" / "__init__.py").is_file() and (PACKAGE / "cli" / "clip.py").is_file()


def test_references_import_nothing_of_the_course():
    """The papers' numbers are data that several modules read: their module imports no other of the course."""
    path = PACKAGE / "evaluation" / "references.py"
    assert imports_of("fsl_course.evaluation.references", path, package_modules()) == set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert not node.level and not (node.module or "").startswith("fsl_course"), ast.unparse(node)
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("fsl_course") for a in node.names), ast.unparse(node)
    from fsl_course.evaluation import references

    assert references.PAPERS and references.LAKE_RUNS


def recorded_commands() -> dict[str, set[str]]:
    """Every command line recorded in the results and the shipped checkpoints' metrics files that starts with
    ``fsl-course `` (the showdown joins a model's stages with `` ; then ``): command -> the files."""
    found: dict[str, set[str]] = {}

    def walk(value, name):
        if isinstance(value, dict):
            for v in value.values():
                walk(v, name)
        elif isinstance(value, list):
            for v in value:
                walk(v, name)
        elif isinstance(value, str) and value.startswith("fsl-course "):
            for command in value.split(" ; then "):
                found.setdefault(command, set()).add(name)

    for path in sorted([*(REPO / "results").glob("*.json"), *(REPO / "checkpoints").glob("*.json")]):
        walk(json.loads(path.read_text()), f"{path.parent.name}/{path.name}")
    return found


def test_every_recorded_command_parses():
    from fsl_course.cli import build_parser

    commands = recorded_commands()
    assert any(c.startswith("fsl-course train ") for c in commands)
    assert "fsl-course sine --iterations 20000 --out results/sine_models.json --json results/sine_maml.json" in commands
    parser = build_parser()
    for command, files in commands.items():
        try:
            args = parser.parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"{command!r} (recorded in {', '.join(sorted(files))}) does not parse with build_parser()")
        assert callable(args.func)


def chapter_map() -> dict[str, list[str]]:
    """The package docstring's map: chapter number -> the module paths (below fsl_course) it names."""
    doc = fsl_course.__doc__
    section = doc[doc.index("Where each chapter's code lives"):]
    chapters, current = {}, None
    for line in section.splitlines()[1:]:
        if m := re.match(r"\* (\d\d) ", line):
            current = chapters.setdefault(m.group(1), [])
        elif not line.startswith("  "):
            current = None
        if current is not None:
            current += re.findall(r"``([a-z_][a-z_0-9.]*)``", line)
    return chapters


def test_the_chapter_map_names_modules_that_exist():
    chapters = chapter_map()
    notebooks = sorted(p.name[:2] for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(chapters) == notebooks  # every chapter has its line, and only the chapters
    modules = package_modules()
    for chapter, names in chapters.items():
        assert names, f"chapter {chapter} names no module"
        for name in names:
            assert f"fsl_course.{name}" in modules, f"chapter {chapter}: fsl_course.{name} is no module"
