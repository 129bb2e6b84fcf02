"""The character models on handwriting from outside Omniglot, against the pixel nearest neighbour.

``fsl-course outside`` scores each shipped Omniglot model (the Vinyals-split ones, by default) and the pixel
nearest neighbour (``methods.PixelNN``, no learning) on the very same fixed episodes of an outside handwriting
split (``digits``: :mod:`fsl_course.data.handwriting`), at 10-way 1-shot and 5-shot, and gives each model's
paired difference from pixels with its 95% interval: an embedding learned on Omniglot's strokes can handle other
writers' scans worse than raw pixels do, which is what a learner drawing their own characters runs into. It
writes ``results/outside_handwriting.json`` and a Markdown table (``.md``), which chapter 02 shows.
"""

from __future__ import annotations

import time
from pathlib import Path

from fsl_course.config import REPO_ROOT, checkpoints_dir
from fsl_course.evaluation.evaluate import TEST_SEED, evaluate, paired_difference, setting_name
from fsl_course.io import atomic_write_json, atomic_write_text

#: The shipped character models scored by default: one of each method, trained on the Vinyals split.
MODELS = ("protonet_omniglot_1shot", "relation_omniglot_1shot", "matching_omniglot_1shot", "baseline_omniglot",
          "maml_omniglot_1shot")
SETTINGS = ((10, 1), (10, 5))
RESULTS_JSON = REPO_ROOT / "results" / "outside_handwriting.json"
RESULTS_MD = REPO_ROOT / "results" / "outside_handwriting.md"
PIXELS = "pixel nearest neighbour"


def run(models=MODELS, split: str = "digits", settings=SETTINGS, n_episodes: int = 1000, query: int = 15,
        folder: Path | None = None, progress: bool = True, command: str | None = None) -> dict:
    """Score ``models`` (checkpoint names in ``folder``, default the shipped ones) and the pixel nearest
    neighbour on the same ``n_episodes`` fixed episodes of ``split`` at each (way, shot) of ``settings``."""
    from fsl_course.data import load_split
    from fsl_course.episodes import EpisodeSet
    from fsl_course.methods import PixelNN
    from fsl_course.training.checkpoints import load_method

    folder = Path(folder or checkpoints_dir())
    loaded = {}
    for name in models:
        path = folder / f"{name}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: name a checkpoint in {folder} (without .pt)")
        method, pre, _ = load_method(path)
        if pre.channels != 1:
            raise ValueError(f"{name} is a model of photos; the outside handwriting is for character models")
        loaded[name] = (method, pre)
    record = {"date": time.strftime("%Y-%m-%d"), "command": command, "split": split, "episodes": n_episodes,
              "query": query, "test_seed": TEST_SEED, "settings": {}}
    sizes = {pre.image_size for _, pre in loaded.values()} or {28}
    if len(sizes) > 1:
        raise ValueError(f"the models read images of different sizes {sorted(sizes)}: the pairing with pixels needs "
                         "one; score them in separate runs")
    data = load_split(split, sizes.pop(), quiet=not progress)
    for way, shot in settings:
        episodes = EpisodeSet(data, way, shot, query, n_episodes, TEST_SEED)
        pixels = evaluate(PixelNN(), episodes, progress=progress)
        rows = {PIXELS: pixels.to_dict()}
        for model, (method, _) in loaded.items():
            why = method.unsupported(way, shot)
            if why:
                rows[model] = {"skipped": why}
                continue
            result = evaluate(method, episodes, progress=progress)
            diff, ci = paired_difference(result, pixels)
            rows[model] = {**result.to_dict(), "minus_pixels": round(diff, 3), "minus_pixels_ci95": round(ci, 3)}
        record["settings"][setting_name(way, shot)] = rows
    return record


def verdict(row: dict) -> str:
    """What the paired difference from pixels supports: beats, loses to, or within noise."""
    if "minus_pixels" not in row:
        return ""
    diff, ci = row["minus_pixels"], row["minus_pixels_ci95"]
    if abs(diff) <= ci:
        return "within noise of pixels"
    return "beats pixels" if diff > 0 else "loses to pixels"


def markdown(record: dict) -> str:
    """The record as a table: a row per model, a column per setting (accuracy ± interval; the paired difference
    from pixels, ± its interval, and what it supports)."""
    settings = list(record["settings"])
    names = list(next(iter(record["settings"].values())))
    lines = [f"| model on `{record['split']}` | " + " | ".join(settings) + " |",
             "|---|" + "---|" * len(settings)]
    for model in names:
        cells = []
        for s in settings:
            row = record["settings"][s][model]
            if "skipped" in row:
                cells.append("-")
            elif "minus_pixels" in row:
                cells.append(f"{row['accuracy']:.2f} ± {row['ci95']:.2f} ({row['minus_pixels']:+.2f} ± "
                             f"{row['minus_pixels_ci95']:.2f}: {verdict(row)})")
            else:  # pixels themselves
                cells.append(f"{row['accuracy']:.2f} ± {row['ci95']:.2f}")
        label = model if model == PIXELS else f"`{model}.pt`"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    skipped = {m: row["skipped"] for rows in record["settings"].values() for m, row in rows.items() if "skipped" in row}
    if skipped:
        lines += ["", "-: not scored: " + "; ".join(f"`{m}.pt` is {why}" for m, why in skipped.items()) + "."]
    return "\n".join(lines)


def write(record: dict, json_path: Path = RESULTS_JSON, md_path: Path = RESULTS_MD) -> None:
    atomic_write_json(record, Path(json_path))
    atomic_write_text(markdown(record) + "\n", Path(md_path))
