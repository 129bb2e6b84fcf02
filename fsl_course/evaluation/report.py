"""Results tables generated from the metrics files that the project's own commands wrote.

Every shipped checkpoint ``checkpoints/NAME.pt`` has beside it ``NAME.json`` (training: command, history,
the model selected on validation), ``NAME.test.json`` (``fsl-course evaluate ... --json``: 1000 fixed test
episodes per setting) and, for models trained on the background set, ``NAME.runs.json`` (``fsl-course
runs ... --json``). ``fsl-course report --readme README.md`` rewrites the README's results block from these
files, and a test checks that the block is what the files say: no number is typed in by hand.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from fsl_course.config import REPO_ROOT, checkpoints_dir
from fsl_course.evaluation.evaluate import SETTINGS as EVAL_SETTINGS
from fsl_course.evaluation.evaluate import setting_name
from fsl_course.evaluation.references import LAKE_RUNS, MINI_PAPERS, PAPERS
from fsl_course.text import plural
from fsl_course.io import read_json
from fsl_course.training.checkpoints import training_commands, training_stages

SETTINGS = tuple(setting_name(way, shot) for way, shot in EVAL_SETTINGS)  # the table's column names
START, END = "<!-- results:start -->", "<!-- results:end -->"


@dataclass(frozen=True)
class Recorded:
    """A result read back from a metrics file (what ``plot_accuracy_bars`` needs: mean, interval, text)."""

    mean: float
    ci95: float
    episodes: int

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.ci95:.2f} %"


def recorded_results(name: str, folder: Path | None = None) -> dict[str, Recorded]:
    """The shipped checkpoint ``NAME``'s test results (``NAME.test.json``), by setting name."""
    path = Path(folder or checkpoints_dir()) / f"{name}.test.json"
    if not path.is_file():
        raise FileNotFoundError(f"no recorded test results at {path}: run `fsl-course evaluate "
                                f"checkpoints/{name}.pt --json {path}`")
    results = json.loads(path.read_text())["results"]
    return {k: Recorded(r["accuracy"], r["ci95"], r["episodes"]) for k, r in results.items()}


def _episodes(train: dict) -> str:
    """``"64000 episodes"``, or for a model trained in stages ``"64000 episodes, then 144000 more from learning
    rate 0.0005"``; a model that started from a pretrained backbone says so (``"3000 episodes from a backbone
    pretrained by supervised pretraining, ..."``)."""
    stages = training_stages(train)
    pretrained = ""
    if "summary" in stages[0]:  # started from a pretrained baseline's backbone (train --init)
        pretrained, stages = f" from a backbone pretrained by {stages[0]['summary']}", stages[1:]
    text = f"{stages[0]['stage_episodes']} episodes{pretrained}"
    for stage in stages[1:]:
        text += f", then {stage['stage_episodes']} more from learning rate {stage['train']['lr']:g}"
    return text


def results_markdown(folder: Path | None = None) -> str:
    """The results block: one row per evaluated checkpoint, the papers' rows, the official runs."""
    folder = Path(folder or checkpoints_dir())
    lines = ["| checkpoint | trained with | protocol | " + " | ".join(SETTINGS) + " |",
             "|---|---|---|" + "---|" * len(SETTINGS)]
    methods, commands, runs_lines = [], [], []  # methods: (method, protocol) of each row
    for test_file in sorted(folder.glob("*.test.json")):
        name = test_file.name[: -len(".test.json")]
        test, train = read_json(test_file), read_json(folder / f"{name}.json")
        t = train["train"] if train else {}
        if train and "summary" in train:  # not episodic (the baselines' pretraining): its own description
            how = train["summary"]
        else:
            how = f"{t.get('way')}-way {t.get('shot')}-shot, {_episodes(train)}" if train else "?"
        if train and train["method"] == "maml" and train["config"].get("bn") == "batch":  # say so wherever shown
            how += ", transductive batch norm (batch statistics of the 75 test queries)"
        cells = [f"{r['accuracy']:.2f}\u00a0±\u00a0{r['ci95']:.2f}" if (r := test["results"].get(s)) else "-" for s in SETTINGS]
        lines.append(f"| `{name}.pt` | {how} | {test['protocol']} | " + " | ".join(cells) + " |")
        methods.append((train["method"] if train else None, test["protocol"]))
        if train:
            commands += [f"    {c}" for c in training_commands(train)]
        commands.append(f"    {test['command']}")
    for method in dict.fromkeys(m for m, protocol in methods if m in PAPERS and protocol == "vinyals"):
        paper, numbers = PAPERS[method]
        lines.append(f"| {paper} | | vinyals | " + " | ".join(f"{x:.1f}" for x in numbers) + " |")
    for method in dict.fromkeys(m for m, protocol in methods if m in MINI_PAPERS and protocol == "mini"):
        for paper, backbone, numbers in MINI_PAPERS[method]:
            if backbone == "Conv-4":  # the course's backbone; the chapter shows the ResNets too
                lines.append(f"| {paper} | Conv-4 | mini | " + " | ".join(f"{x:.2f}" for x in numbers)
                             + " | -" * (len(SETTINGS) - len(numbers)) + " |")
    for runs_file in sorted(folder.glob("*.runs.json")):
        name = runs_file.name[: -len(".runs.json")]
        runs, train = read_json(runs_file), read_json(folder / f"{name}.json")
        split = train["train_split"] if train else "?"
        runs_lines.append(f"- `{name}.pt` (trained on `{split}`): **{runs['error']:.2f} %** error")
        if train:
            commands += [f"    {c}" for c in training_commands(train)]
        commands.append(f"    {runs['command']}")
    out = [START, "", "Accuracy in % with the 95% interval over 1000 fixed test episodes (15 queries per class, "
           "test seed 0). Protocol **vinyals**: tested on `vinyals_test`, model selected on `vinyals_val`; "
           "**background**: trained on the 30 background alphabets, tested on the 20 evaluation alphabets (harder: "
           "whole alphabets are new), the last model of a fixed schedule; **mini**: mini-ImageNet's 20 test classes "
           "(photos, 5-way only), model selected on `mini_val`.", "", *lines]
    if runs_lines:
        out += ["", "Official 20 runs of within-alphabet 20-way one-shot classification (Lake et al. 2015), "
                "error rate over the 400 test drawings:", "", *runs_lines,
                "- for comparison (Lake et al. 2015): " + ", ".join(f"{k} {v} %" for k, v in LAKE_RUNS.items())]
    bench = read_json(REPO_ROOT / "benchmarks" / "results" / "pipeline.json")
    if bench:
        d, t = bench["data"], bench["train"]
        out += ["", f"Speed (`python benchmarks/bench_pipeline.py`, 20-way 5-shot 15-query, one CPU thread): episodes "
                f"ready for the model {d['ours']['per_s_wall']:.0f}/s against {d['theirs']['per_s_wall']:.1f}/s "
                f"for torchvision's `Omniglot` + easyfsl's `TaskSampler` (**{d['ratio_wall']:.0f}x**); ProtoNet "
                f"training {t['ours']['per_s_wall']:.2f} against {t['theirs']['per_s_wall']:.2f} episodes/s for "
                f"easyfsl's `PrototypicalNetworks` ({t['ratio_wall']:.2f}x)."]
    methods = read_json(REPO_ROOT / "benchmarks" / "results" / "methods.json")
    if methods:
        parts = []
        labels = {"protonet": "ProtoNet", "matching": "Matching Nets (with FCE, as easyfsl's)", "relation": "Relation Net"}
        for name, m in methods["methods"].items():
            train, test = m["train"], m["test"]
            parts.append(f"{labels.get(name, name)} training {train['sides']['ours']['per_s_cpu']:.2f} against "
                         f"{train['sides']['easyfsl']['per_s_cpu']:.2f} episodes/s (**{train['ratio_cpu']:.2f}x**), "
                         f"testing {test['sides']['ours']['ms_cpu']:.1f} against {test['sides']['easyfsl']['ms_cpu']:.1f} "
                         f"ms per 5-way 1-shot episode (**{test['ratio_cpu']:.2f}x**)")
        out += ["", "Methods against easyfsl's on the same Conv-4, weights and episodes (`python "
                "benchmarks/bench_methods.py`, one CPU thread, CPU time): " + "; ".join(parts) + "."]
    photos = read_json(REPO_ROOT / "benchmarks" / "results" / "mini_imagenet.json")
    if photos:
        d, t = photos["data"], photos["train"]
        w0, w2 = d["theirs"]["workers_0"], d["theirs"]["workers_2"]
        out += ["", f"On photos (`{photos['command'].strip()}`, mini-ImageNet 5-way 5-shot 15-query, 84x84): episodes "
                f"ready for the model {w0['ours']['per_s_wall']:.0f}/s against {w0['per_s_wall']:.2f}/s for "
                f"torchvision's `ImageFolder` + easyfsl's `TaskSampler` with 0 workers (**{w0['ratio_wall']:.0f}x**) "
                f"and {w2['per_s_wall']:.2f}/s with 2 (**{w2['ratio_wall']:.0f}x**); the Conv-4 ProtoNet step "
                f"{t['ours']['per_s_wall']:.2f} against {t['theirs']['per_s_wall']:.2f} steps/s for easyfsl's "
                f"(**{t['ratio_vs_easyfsl_wall']:.2f}x**), at {t['achieved_flop_per_s'] / 1e9:.0f} GFLOP/s, "
                f"{100 * t['fraction_of_matmul_rate']:.0f} % of this CPU's dense matrix-multiply rate measured in the "
                "same run (one thread)."]
    spread = read_json(REPO_ROOT / "benchmarks" / "results" / "distributed.json")
    if spread:
        one, two = spread["sides"]["1"], spread["sides"]["2"]
        out += ["", f"Several processes (`python benchmarks/bench_distributed.py`, `fsl-course train protonet` under "
                f"torchrun, {spread['config']['way']}-way episodes, one thread each): "
                f"{two['episodes_per_s']:.2f} episodes/s in 2 processes against {one['episodes_per_s']:.2f} in 1 "
                f"(**{spread['ratio_2_over_1']:.2f}x**, 2.00x being perfect scaling)."]
    mini = read_json(REPO_ROOT / "results" / "mini_clip.json")
    if mini:
        m = mini["metrics"]
        out += ["", f"Mini-CLIP (notebook 08, `{mini['command']}`): zero-shot accuracy on the held-out colour-shape "
                f"combinations ({', '.join(m['held_out'])}) **{100 * m['held_out_accuracy']:.1f} %** among all "
                f"{m['classes']} combinations (chance {100 * m['chance']:.1f} %), trained in "
                f"{mini['train_seconds']:.0f} s on {plural(mini['threads'], 'CPU thread')}."]
    photo = read_json(REPO_ROOT / "checkpoints" / "photo_clip_mini.json")
    if photo:
        t = photo["test"]
        five, every = t["5-way"], t["all-way"]
        out += ["", f"Zero-shot on photos, offline (notebook 11, `{photo['command']}`): an image tower trained into "
                f"all-MiniLM-L6-v2's text space on the 64 `mini_train` classes names the {t['classes']} unseen "
                f"`{t['split']}` classes from their names and descriptions: 5-way **{five['accuracy']:.2f} ± "
                f"{five['ci95']:.2f} %** over {five['episodes']} fixed episodes (chance {five['chance']:.0f} %), "
                f"{every['ways']}-way **{every['accuracy']:.2f} %** over {every['images']} photos (chance "
                f"{every['chance']:.0f} %); trained in {photo['train_seconds'] / 60:.1f} min on "
                f"{plural(photo['threads'], 'CPU thread')}."]
    showdown_file = REPO_ROOT / "results" / "showdown.json"
    if showdown_file.is_file():
        from fsl_course.evaluation import showdown

        out += ["", "### The showdown", "", "Every method of the course on the same fixed test episodes "
                "(`fsl-course showdown`, notebook 09; `results/showdown.json`):", "",
                showdown.markdown(json.loads(showdown_file.read_text())).rstrip("\n")]
    out += ["", "Made by:", "", *dict.fromkeys(commands), "", END]
    return "\n".join(out)


def update_readme(readme: Path = REPO_ROOT / "README.md", folder: Path | None = None) -> bool:
    """Rewrite the block between the results markers; return True if the file changed."""
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no results block: add the lines {START} and {END} where it goes")
    new = pattern.sub(lambda _: results_markdown(folder), text)
    if new != text:
        readme.write_text(new)
    return new != text


def readme_block(readme: Path = REPO_ROOT / "README.md") -> str:
    text = readme.read_text()
    return text[text.index(START): text.index(END) + len(END)]
