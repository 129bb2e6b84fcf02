"""Execute the book's notebooks into Jupyter Book's execution cache, several at a time.

Jupyter Book 1.x runs the notebooks of a build one after another, each kernel on one torch thread, so on a
machine with two cores one core idles for the whole execution. `bash course.sh book` calls this first:

    python book/execute.py [--jobs N]

It reads the notebooks from book/_toc.yml and the cache folder, timeout and allowed errors from book/_config.yml
(the build's own settings), adds the notebooks to that cache and executes them with jupyter-cache's own
local-folder worker (the one Jupyter Book uses: each notebook runs in its own folder), N at a time (default: the
number of CPUs). The build that follows finds every notebook in the cache, keyed on its code cells, and runs none
again. A notebook that fails stops here with its traceback and exit status 1, before any page is built.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.cache.db import NbProjectRecord
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

ROOT = Path(__file__).resolve().parent.parent


def toc_notebooks(toc: Path) -> list[Path]:
    """The notebooks a table of contents names, in its order."""
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(toc.read_text(encoding="utf-8")))
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").is_file()]


def _shown(path) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _run(data: ProcessData) -> tuple[int, str, float]:
    start = time.perf_counter()
    code, uri = ExecutionWorkerLocalMProc()(data)
    return code, uri, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "book" / "_config.yml")
    parser.add_argument("--toc", type=Path, default=ROOT / "book" / "_toc.yml")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="notebooks executed at once (default: the number of CPUs)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")

    execute = yaml.safe_load(args.config.read_text(encoding="utf-8")).get("execute", {})
    if execute.get("execute_notebooks") != "cache" or execute.get("run_in_temp"):
        parser.error(f"{args.config} does not execute into a cache in the notebooks' own folders "
                     "(execute_notebooks: cache, run_in_temp: false); nothing to prepare")
    cache = get_cache(str(ROOT / execute["cache"]))
    notebooks = toc_notebooks(args.toc)
    pending = []
    for path in notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
            print(f"    {_shown(path)}: already in the cache", flush=True)
        except KeyError:
            record = cache.add_nb_to_project(str(path))
            NbProjectRecord.remove_tracebacks([record.pk], cache.db)
            pending.append(ProcessData(record.pk, record.uri, cache, execute.get("timeout", 30),
                                       bool(execute.get("allow_errors", False))))
    if not pending:
        print(f"==> all {len(notebooks)} notebooks are in the cache already", flush=True)
        return 0
    jobs = min(args.jobs, len(pending))
    print(f"==> executing {len(pending)} of {len(notebooks)} notebooks, {jobs} at a time", flush=True)
    start = time.perf_counter()
    failed = []
    # forked workers, as jupyter-cache's own parallel executor; chunks of one notebook: a free process takes the next notebook in the table of contents' order
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for code, uri, seconds in pool.imap_unordered(_run, pending, chunksize=1):
            print(f"    {_shown(uri)}: {'executed' if code == 0 else 'FAILED'} in {seconds:.0f} s", flush=True)
            if code != 0:
                failed.append(uri)
    print(f"==> executed in {time.perf_counter() - start:.0f} s", flush=True)
    for uri in failed:
        record = cache.get_project_record(uri)
        print(f"error: {_shown(uri)} failed to execute:\n{record.traceback or '(no traceback)'}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
