"""The showdown: every method the course teaches, on the same fixed test episodes, in one table.

``fsl-course showdown`` builds ``results/showdown.json`` (and the Markdown table ``results/showdown.md`` that
the README and notebook 09 show):

* **accuracy**: every method's shipped checkpoint on the 1000 fixed ``vinyals_test`` episodes of each setting
  (5-way and 20-way, 1 and 5 shots, 15 queries per class, test seed 0), with the 95% interval. A cell that the
  project's own commands have already recorded beside the checkpoint (``NAME.test.json`` from ``fsl-course
  evaluate``, ``NAME.heads.json`` from ``fsl-course heads``) is read from there, so the table and the chapters
  show the same numbers; a missing cell is evaluated here and kept in ``showdown.json``, with the checkpoint's
  SHA-256 so that a new checkpoint is evaluated again;
* **the official 20 runs** (Lake et al. 2015): the error of the method's model trained on the 30 background
  alphabets (``NAME.runs.json`` from ``fsl-course runs``), where the course ships one;
* **cost**: parameters, training time (from the checkpoint's training record) and milliseconds per test
  episode, all methods timed in this one run on the same first episodes of each setting, one after another,
  so that the times compare (one CPU thread unless told otherwise);
* the papers' numbers beside them (``fsl_course.evaluation.references.PAPERS``).

A MAML model has a head of ``way`` outputs, so it is scored only at its own number of ways.

A second table, ``record["mini"]``, does the same on photos: the shipped mini-ImageNet models on 1000 fixed
``mini_test`` episodes (5-way, 1 and 5 shots), timed on those episodes, beside the papers' Conv-4 numbers; a
method the course ships no mini-ImageNet model of keeps its row, with "-" in its cells.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from fsl_course.config import REPO_ROOT, checkpoints_dir
from fsl_course.evaluation.evaluate import (PHOTO_SETTINGS, PROTOCOLS, SETTINGS, TEST_SEED, EvalResult, evaluate,
                                            load_test_split, parse_setting, setting_name)
from fsl_course.evaluation.references import LAKE_RUNS, MINI_PAPERS, PAPERS
from fsl_course.io import atomic_write_json, atomic_write_text, read_json
from fsl_course.text import plural

SETTING_NAMES = tuple(setting_name(w, s) for w, s in SETTINGS)
MINI_SETTING_NAMES = tuple(setting_name(w, s) for w, s in PHOTO_SETTINGS)
RESULTS_JSON = REPO_ROOT / "results" / "showdown.json"
RESULTS_MD = REPO_ROOT / "results" / "showdown.md"
N_EPISODES, N_QUERY = 1000, 15


FINETUNE_20WAY = ("fine-tuning the whole network per episode: seconds per 20-way episode on a CPU thread, hours for "
                  "1000 (`fsl-course heads checkpoints/baseline_omniglot.pt --heads finetune --way 20` runs it)")


@dataclass(frozen=True)
class Entry:
    """One row: a shipped checkpoint with the options it is scored with."""

    label: str
    checkpoint: str  # checkpoints/NAME.pt
    chapter: str  # the notebook that teaches it
    options: dict = field(default_factory=dict)  # method.configure(**options) (the baselines' head)
    runs_checkpoint: str | None = None  # the model trained on the background alphabets, for the official runs
    paper: str | None = None  # key of references.PAPERS
    skip: dict = field(default_factory=dict)  # setting -> why this row is not scored there


ENTRIES = (
    Entry("Baseline: nearest centroid", "baseline_omniglot", "02", {"head": "centroid"}),
    Entry("Baseline: linear probe", "baseline_omniglot", "02", {"head": "logistic"}),
    Entry("Baseline++: cosine classifier", "baseline_omniglot", "02", {"head": "cosine"}),
    Entry("Baseline: fine-tuning", "baseline_omniglot", "02", {"head": "finetune"},
          skip=dict.fromkeys(("20-way 1-shot", "20-way 5-shot"), FINETUNE_20WAY)),
    Entry("MAML (meta-trained at 1 shot)", "maml_omniglot_1shot", "03", runs_checkpoint="maml_background_1shot",
          paper="maml"),
    Entry("MAML (meta-trained at 5 shots)", "maml_omniglot_5shot", "03", paper="maml"),
    Entry("Matching Networks", "matching_omniglot_1shot", "04", runs_checkpoint="matching_background_1shot",
          paper="matching"),
    Entry("Prototypical Networks", "protonet_omniglot_1shot", "05", runs_checkpoint="protonet_background_1shot",
          paper="protonet"),
    Entry("Relation Networks", "relation_omniglot_1shot", "06", runs_checkpoint="relation_background_1shot",
          paper="relation"),
)


#: The mini-ImageNet table: every method of the course, a row each (with "-" where no model is shipped).
MINI_ENTRIES = (
    Entry("Baseline: nearest centroid", "baseline_mini", "10", {"head": "centroid"}, paper="baseline"),
    Entry("Baseline: nearest centroid, trained with photo augmentation", "baseline_mini_aug", "10",
          {"head": "centroid"}, paper="baseline"),
    Entry("Baseline: logistic regression, trained with photo augmentation (the head chosen on mini_val)",
          "baseline_mini_aug", "10", {"head": "logistic"}, paper="baseline"),
    Entry("MAML", "maml_mini", "03", paper="maml"),
    Entry("Matching Networks", "matching_mini", "04", paper="matching"),
    Entry("Prototypical Networks (Meta-Baseline: from the baseline's backbone)", "protonet_mini", "10",
          paper="protonet"),
    Entry("Relation Networks", "relation_mini", "06", paper="relation"),
)
MINI_SPLIT = PROTOCOLS["mini"]["test"]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _fixed_episodes_described(result: dict, setting: str, split: str = "vinyals_test") -> bool:
    """Is a recorded result the showdown's episodes: 1000 episodes of ``split``, 15 queries, the test seed?"""
    way, shot = parse_setting(setting)
    return (result.get("episodes") == N_EPISODES and result.get("episodes_described") ==
            f"{N_EPISODES} {split} episodes, {way}-way {shot}-shot {N_QUERY}-query, seed {TEST_SEED}")


def recorded_cell(entry: Entry, setting: str, folder: Path, protocol: str = "vinyals") -> dict | None:
    """The result of ``entry`` at ``setting`` on ``protocol``'s test episodes that a project command recorded
    beside its checkpoint, if any."""
    head = entry.options.get("head")
    own = read_json(folder / f"{entry.checkpoint}.json") or {}
    default_head = own.get("config", {}).get("head")
    sources = []
    if head is None or head == default_head:
        sources.append(folder / f"{entry.checkpoint}.test.json")
    if head is not None:
        sources.append(folder / f"{entry.checkpoint}.heads.json")
    for path in sources:
        record = read_json(path)
        if not record or record.get("protocol", "vinyals") != protocol or record.get("split"):
            continue
        results = record["results"].get(head, {}) if path.name.endswith(".heads.json") else record["results"]
        result = results.get(setting)
        if result and _fixed_episodes_described(result, setting, PROTOCOLS[protocol]["test"]):
            return {**result, "command": result.get("command", record["command"]),
                    "source": f"checkpoints/{path.name}"}
    return None


TIMING_ROUNDS = 2  # timings per method and setting, in alternating order; the fastest is kept
WARM_UP_EPISODES = 3


def _episodes(split, setting: str, n: int):
    from fsl_course.episodes import EpisodeSet

    way, shot = parse_setting(setting)
    return EpisodeSet(split, way, shot, N_QUERY, n, TEST_SEED)


def build(folder: Path | None = None, previous: dict | None = None, entries=ENTRIES, timing_episodes: int = 50,
          evaluate_missing: bool = True, progress: bool = True, command: str = "", device=None,
          mini_entries=MINI_ENTRIES) -> dict:
    """Collect (and where needed evaluate) every cell, time every method; return the showdown record: the
    Omniglot table at the top level, the mini-ImageNet one under ``"mini"`` (``mini_entries=()``: none)."""
    folder = Path(folder or checkpoints_dir())
    device = torch.device(device or "cpu")
    previous = previous or {}
    common = dict(folder=folder, evaluate_missing=evaluate_missing, progress=progress, command=command,
                  device=device, timing_episodes=timing_episodes)
    rows = _rows(entries, "vinyals", SETTING_NAMES, previous.get("rows", []), keep_missing=False, **common)
    record = {"date": time.strftime("%Y-%m-%d"), "command": command, "episodes": N_EPISODES, "query": N_QUERY,
              "test_seed": TEST_SEED, "timing_episodes": timing_episodes, "threads": torch.get_num_threads(),
              "device": str(device), "settings": list(SETTING_NAMES), "rows": rows,
              "papers": {k: {"paper": v[0], **dict(zip(SETTING_NAMES, v[1]))} for k, v in PAPERS.items()},
              "lake_runs": LAKE_RUNS}
    if mini_entries:
        old = previous.get("mini", {}).get("rows", [])
        mini_rows = _rows(mini_entries, "mini", MINI_SETTING_NAMES, old, keep_missing=True, **common)
        papers = {method: [{"paper": name, **dict(zip(MINI_SETTING_NAMES, values))}
                           for name, backbone, values in rows_ if backbone == "Conv-4"]
                  for method, rows_ in MINI_PAPERS.items()}
        record["mini"] = {"split": MINI_SPLIT, "settings": list(MINI_SETTING_NAMES), "rows": mini_rows,
                          "papers": papers}
    return record


def _rows(entries, protocol: str, settings: tuple[str, ...], old_rows: list, keep_missing: bool, folder: Path, evaluate_missing: bool, progress: bool, command: str, device, timing_episodes: int) -> list:
    """One table's rows: each entry's recorded (or, if missing, evaluated) cells, its costs, and the timings of
    every shipped model in this run. ``keep_missing``: an entry without a checkpoint keeps a row of "-"."""
    from fsl_course.training.checkpoints import load_method, training_commands

    old_rows = {row["label"]: row for row in old_rows}
    test, first_pre = None, None
    rows, models = [], {}
    for entry in entries:
        path = folder / f"{entry.checkpoint}.pt"
        if not path.is_file():
            if keep_missing:  # no shipped model of this method: a row of "-", beside the papers' numbers
                rows.append({"label": entry.label, "method": entry.paper, "checkpoint": None, "sha256": None,
                             "options": entry.options, "chapter": entry.chapter, "parameters": None,
                             "train_seconds": None, "train_command": None, "results": {}, "not_applicable": {},
                             "runs": None})
            continue  # else: no shipped checkpoint, no row
        method, pre, _ = load_method(path)
        first_pre = first_pre or pre
        if entry.options:
            method.configure(**entry.options)
        models[entry.label] = method.to(device)
        digest = sha256(path)
        train = read_json(folder / f"{entry.checkpoint}.json") or {}
        old = old_rows.get(entry.label, {})
        row = {"label": entry.label, "method": method.name, "checkpoint": f"checkpoints/{path.name}",
               "sha256": digest, "options": entry.options, "chapter": entry.chapter,
               "parameters": sum(p.numel() for p in method.parameters()),
               "train_seconds": train.get("train_seconds"),
               "train_command": " ; then ".join(training_commands(train)) if train else None,
               "results": {}, "not_applicable": {}}
        for setting in settings:
            why = entry.skip.get(setting) or method.unsupported(*parse_setting(setting))
            if why:
                row["not_applicable"][setting] = why
                continue
            cell = recorded_cell(entry, setting, folder, protocol)
            if cell is None and old.get("sha256") == digest:
                cell = old.get("results", {}).get(setting)
            if cell is None and evaluate_missing:
                if test is None:
                    test = load_test_split(PROTOCOLS[protocol]["test"], pre).for_device(device)
                if progress:
                    print(f"evaluating {entry.label}, {setting}, on {N_EPISODES} episodes")
                r = evaluate(method, _episodes(test, setting, N_EPISODES), device, progress=progress)
                cell = {**r.to_dict(), "command": command or "fsl-course showdown", "source": "fsl-course showdown"}
            if cell is not None:
                row["results"][setting] = cell
        runs = read_json(folder / f"{entry.runs_checkpoint}.runs.json") if entry.runs_checkpoint else None
        row["runs"] = ({"error": runs["error"], "checkpoint": f"checkpoints/{entry.runs_checkpoint}.pt",
                        "command": runs["command"]} if runs else None)
        rows.append(row)
    if timing_episodes and models:
        if test is None:
            test = load_test_split(PROTOCOLS[protocol]["test"], first_pre).for_device(device)
        time_methods(rows, models, test, timing_episodes, settings=settings, device=device)
    return rows


def time_methods(rows: list[dict], models: dict, test, n_episodes: int, rounds: int = TIMING_ROUNDS,
                 settings: tuple[str, ...] = SETTING_NAMES, device=None) -> None:
    """Set each row's ``ms_per_episode`` per setting: the fastest of ``rounds`` timings of ``n_episodes`` episodes,
    taken in alternating order (settings and methods forwards, then backwards, ...), each after a few untimed
    warm-up episodes, so that neither a slow start (allocations, caches, the CPU's clock) nor a burst of other
    work on a shared machine lands on one setting or one method alone."""
    pairs = [(setting, row) for setting in settings for row in rows
             if row["label"] in models and setting not in row["not_applicable"]]
    warm = {s: _episodes(test, s, WARM_UP_EPISODES) for s in settings}
    timed = {s: _episodes(test, s, n_episodes) for s in settings}
    best: dict[tuple[str, str], float] = {}
    for r in range(rounds):
        for setting, row in (pairs if r % 2 == 0 else pairs[::-1]):
            method = models[row["label"]]
            evaluate(method, warm[setting], device, progress=False)  # first calls (allocations, L-BFGS setup) untimed
            result: EvalResult = evaluate(method, timed[setting], device, progress=False)
            key = (row["label"], setting)
            best[key] = min(best.get(key, float("inf")), result.ms_per_episode)
    for setting, row in pairs:
        row.setdefault("ms_per_episode", {})[setting] = round(best[(row["label"], setting)], 2)


def _hours(seconds) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


def _cell(row: dict, setting: str) -> str:
    r = row["results"].get(setting)
    if r:
        return f"{r['accuracy']:.2f}\u00a0±\u00a0{r['ci95']:.2f}"
    return "n/a" if setting in row["not_applicable"] else "-"


def _timing(row: dict, settings: list) -> str:
    if not row["checkpoint"]:
        return "-"
    ms = row.get("ms_per_episode", {})
    return " / ".join(f"{ms[s]:.0f}" if s in ms else "n/a" for s in (settings[0], settings[-1]))


def _cost(row: dict) -> str:
    parameters = f"{row['parameters']:,}" if row["parameters"] is not None else "-"
    return f"{parameters} | {_hours(row['train_seconds'])}"


def markdown(record: dict, mini: bool = True) -> str:
    """The table: accuracy with interval per setting (and the paper's), the official runs, the costs; then
    (``mini=True``) the mini-ImageNet table, where the record has one."""
    settings = record["settings"]
    head = ("| method | " + " | ".join(settings) + " | official runs, error | parameters | training | "
            "ms per episode (5-way 1-shot / 20-way 5-shot) |")
    lines, shown = [head, "|---" * (len(settings) + 5) + "|"], set()
    for row in record["rows"]:
        runs = f"{row['runs']['error']:.2f} %" if row["runs"] else "-"
        lines.append(f"| {row['label']} | " + " | ".join(_cell(row, s) for s in settings) + f" | {runs} | "
                     f"{_cost(row)} | {_timing(row, settings)} |")
        paper = record["papers"].get(row["method"])
        if paper and row["method"] not in shown:  # once per method, under its first row
            shown.add(row["method"])
            lines.append(f"| *{paper['paper']}* | " + " | ".join(f"*{paper[s]:.1f}*" for s in settings) +
                         " | | | | |")
    device = record.get("device", "cpu")
    where = plural(record["threads"], "CPU thread") if device == "cpu" else f"on {device}"
    notes = [f"Accuracy in % with the 95% interval over {record['episodes']} fixed `vinyals_test` episodes per "
             f"setting ({record['query']} queries per class, test seed {record['test_seed']}): the same episodes "
             "for every method. Papers' numbers in italics. n/a: "
             + "; ".join(sorted({f"{why}" for row in record["rows"] for why in row["not_applicable"].values()}))
             + ". Official runs: the model of the same method trained on the 30 background alphabets "
             "(`fsl-course runs`); - where the course ships none; for comparison (Lake et al. 2015): "
             + ", ".join(f"{k} {v} %" for k, v in record["lake_runs"].items()) + ".",
             "Training: wall-clock time of the shipped model's own training (every stage of it), on a shared 2-core "
             "CPU. Milliseconds per episode: every method timed in one run on the same first "
             f"{record['timing_episodes']} episodes, {where}. Made by `{record['command'] or 'fsl-course showdown'}` "
             f"on {record['date']}."]
    out = "\n".join(lines) + "\n\n" + "\n\n".join(notes) + "\n"
    if mini and record.get("mini"):
        out += "\n" + mini_markdown(record)
    return out


def mini_markdown(record: dict) -> str:
    """The mini-ImageNet table of a showdown record, with its note."""
    mini = record["mini"]
    settings = mini["settings"]
    lines = ["| method | " + " | ".join(settings) + " | parameters | training | ms per episode ("
             + " / ".join(settings) + ") |", "|---" * (len(settings) + 4) + "|"]
    shown = set()
    for row in mini["rows"]:
        lines.append(f"| {row['label']} | " + " | ".join(_cell(row, s) for s in settings) + f" | {_cost(row)} | "
                     f"{_timing(row, settings)} |")
        if row["method"] not in shown:  # the papers' Conv-4 numbers, once per method, under its first row
            shown.add(row["method"])
            for paper in mini["papers"].get(row["method"], []):
                lines.append(f"| *{paper['paper']}* | " + " | ".join(f"*{paper[s]:.2f}*" for s in settings)
                             + " | | | |")
    missing = [row["label"] for row in mini["rows"] if not row["checkpoint"]]
    note = (f"mini-ImageNet (photos): accuracy in % with the 95% interval over {record['episodes']} fixed "
            f"`{mini['split']}` episodes per setting ({record['query']} queries per class, test seed "
            f"{record['test_seed']}), the same for every model, each selected on `mini_val`; the course's models are "
            "Conv-4 at 84x84, trained on a CPU, beside the papers' Conv-4 numbers (in italics). Milliseconds per "
            f"episode: timed in the same run on the first {record['timing_episodes']} of these episodes.")
    if missing:
        note += (" -: the course ships no mini-ImageNet model of this method yet (" + ", ".join(missing) + "); "
                 "`fsl-course train METHOD --train-split mini_train --val-split mini_val` trains one.")
    return "**On photos: mini-ImageNet**\n\n" + "\n".join(lines) + "\n\n" + note + "\n"


def write(record: dict, json_path: Path = RESULTS_JSON, md_path: Path = RESULTS_MD) -> None:
    atomic_write_json(record, Path(json_path))
    atomic_write_text(markdown(record), Path(md_path))


def load(json_path: Path = RESULTS_JSON) -> dict:
    """The shipped showdown record (``fsl-course showdown`` writes it)."""
    path = Path(json_path)
    if not path.is_file():
        raise FileNotFoundError(f"no showdown results at {path}: run `fsl-course showdown`")
    return json.loads(path.read_text())
