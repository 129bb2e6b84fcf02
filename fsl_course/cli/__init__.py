"""``fsl-course``: download data, train, evaluate, and score the official runs from the command line."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from fsl_course.cli.clip import add_clip_commands
from fsl_course.config import REPO_ROOT
from fsl_course.evaluation.evaluate import SETTINGS, evaluate_checkpoint


def _cmd_download(args) -> int:
    from fsl_course.data.download import DownloadError, download_omniglot

    try:
        download_omniglot(args.root, source=args.source)
    except DownloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _training_data(args):
    """Set the threads and the seed; load the training split and the validation split (None for 'none')."""
    from fsl_course.config import seed_everything
    from fsl_course.data import load_split

    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    train_data = load_split(args.train_split, args.image_size, rotations=getattr(args, "rotate", False))
    val_data = None if args.val_split == "none" else load_split(args.val_split, args.image_size)
    return train_data, val_data


def method_options(name: str, options: dict, data) -> dict:
    """``options`` for method ``name``, with the backbone set up for ``data``'s images (RGB photos need three
    input channels and their normalisation) unless the options say otherwise."""
    import inspect

    from fsl_course.methods import METHODS

    needs = data.backbone_config()
    if not needs or name not in METHODS or "backbone_config" not in inspect.signature(METHODS[name]).parameters:
        return options
    return {**options, "backbone_config": {**needs, **options.get("backbone_config", {})}}


def _cmd_train(args) -> int:
    from fsl_course.config import get_device
    from fsl_course.methods import build_method
    from fsl_course.training.episodic import TrainConfig, train

    train_data, val_data = _training_data(args)
    method = build_method(args.method, **method_options(args.method, parse_settings(args.set), train_data))
    config = TrainConfig(way=args.way, shot=args.shot, query=args.query, episodes=args.episodes, lr=args.lr,
                         lr_step=args.lr_step, lr_gamma=args.lr_gamma, val_way=args.val_way,
                         val_shot=args.val_shot, val_episodes=args.val_episodes, val_every=args.val_every,
                         seed=args.seed, meta_batch=args.meta_batch, init=args.init or "",
                         command=args.command_line)
    record = train(method, train_data, val_data, config, args.out, train_data.preprocess(),
                   device=get_device(args.device), resume=not args.no_resume)
    best = record["best"]
    print(f"Done: {args.out} (best validation accuracy {best['val_accuracy']} at episode {best['step']}).")
    return 0


def _cmd_pretrain(args) -> int:
    from fsl_course.config import get_device
    from fsl_course.methods.baseline import Baseline
    from fsl_course.training.pretrain import PretrainConfig, pretrain

    train_data, val_data = _training_data(args)
    if val_data is None:
        raise SystemExit("error: pretraining selects its epoch on validation episodes; give a --val-split")
    config = PretrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            weight_decay=args.weight_decay, shift=args.shift, val_episodes=args.val_episodes,
                            seed=args.seed, command=args.command_line)
    options = method_options("baseline", {"head": args.head}, train_data)
    record = pretrain(Baseline(**options), train_data, val_data, config, args.out, train_data.preprocess(),
                      device=get_device(args.device), resume=not args.no_resume)
    best = record["best"]
    print(f"Done: {args.out} (best validation accuracy {best['val_accuracy']:.2f} % at epoch {best['epoch']}).")
    return 0


def _cmd_heads(args) -> int:
    from fsl_course.training.pretrain import evaluate_heads

    if args.threads:
        torch.set_num_threads(args.threads)
    evaluate_heads(args.checkpoint, args.heads, args.shots, args.way, args.episodes, args.finetune_episodes,
                   args.query, args.protocol, json_path=args.json, command=args.command_line)
    return 0


def _cmd_showdown(args) -> int:
    from fsl_course.evaluation import showdown

    torch.set_num_threads(args.threads)
    previous = showdown.load(args.json) if Path(args.json).is_file() else None
    record = showdown.build(previous=previous, timing_episodes=args.timing_episodes,
                            evaluate_missing=not args.no_evaluate, command=args.command_line)
    showdown.write(record, Path(args.json), Path(args.md))
    print(showdown.markdown(record))
    print(f"written: {args.json}, {args.md}")
    return 0


def parse_settings(pairs: list[str] | None) -> dict:
    """``["fce=true", "scale=10"]`` -> ``{"fce": True, "scale": 10}`` (values read as JSON, else as text)."""
    import json

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --set expects KEY=VALUE (for example --set fce=true), got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _cmd_evaluate(args) -> int:
    from fsl_course.io import atomic_write_json

    settings = SETTINGS if args.way is None else [(args.way, args.shot)]
    results = evaluate_checkpoint(args.checkpoint, args.protocol, settings, args.episodes, args.query, args.seed)
    for name, r in results.items():
        print(f"{args.protocol} {name}: {r}  ({r.description}; {r.ms_per_episode:.1f} ms per episode)")
    if args.json:
        atomic_write_json({"checkpoint": str(args.checkpoint), "protocol": args.protocol,
                           "command": args.command_line,
                           "results": {k: r.to_dict() for k, r in results.items()}}, Path(args.json))
    return 0


def _cmd_runs(args) -> int:
    from fsl_course.data.runs import score_runs

    result = score_runs(args.checkpoint)
    for i, err in enumerate(result["per_run_error"], 1):
        print(f"run {i:02d}: {err:5.1f} % error")
    print(f"official 20 runs (within-alphabet 20-way 1-shot): {result['error']:.2f} % error")
    if args.json:
        from fsl_course.io import atomic_write_json

        atomic_write_json({"checkpoint": str(args.checkpoint), "command": args.command_line,
                           **result}, Path(args.json))
    return 0


def _cmd_report(args) -> int:
    from fsl_course.evaluation.report import results_markdown, update_readme

    if args.readme:
        changed = update_readme(Path(args.readme))
        print(f"{args.readme}: results block {'updated' if changed else 'already up to date'}")
    else:
        print(results_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fsl-course", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("download", help="fetch a data set (verified, extracted atomically)")
    d.add_argument("dataset", choices=["omniglot"])
    d.add_argument("--from", dest="source", help="a local folder (or base URL) holding the same files")
    d.add_argument("--root", help="data folder (default: FSL_COURSE_DATA or ~/.cache/fsl_course)")
    d.set_defaults(func=_cmd_download)

    t = sub.add_parser("train", help="train a method episodically on Omniglot")
    t.add_argument("method")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a method option, repeatable (matching: fce=true, scale=...; relation: aggregate=mean; "
                   "maml: way=5, inner_steps=1, inner_lr=0.4, test_inner_steps=3, first_order=true, anil=true)")
    t.add_argument("--out", required=True, help="checkpoint path (its .json and .state.pt go beside it)")
    t.add_argument("--train-split", default="vinyals_train")
    t.add_argument("--val-split", default="vinyals_val", help="'none' keeps the last model")
    t.add_argument("--rotate", action="store_true", help="add 90/180/270-degree rotations as new classes")
    t.add_argument("--image-size", type=int, default=None, help="default: the data set's own (28, or 84)")
    t.add_argument("--way", type=int, default=60)
    t.add_argument("--shot", type=int, default=5)
    t.add_argument("--query", type=int, default=5)
    t.add_argument("--episodes", type=int, default=10_000)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--lr-step", type=int, default=2000)
    t.add_argument("--lr-gamma", type=float, default=0.5)
    t.add_argument("--val-way", type=int, default=5)
    t.add_argument("--val-shot", type=int, default=None)
    t.add_argument("--val-episodes", type=int, default=200)
    t.add_argument("--val-every", type=int, default=500)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--meta-batch", type=int, default=1,
                   help="episodes (tasks) whose gradients are averaged per Adam step (MAML: 32 at 5-way)")
    t.add_argument("--init", metavar="CHECKPOINT",
                   help="continue the model of this checkpoint (a new stage: its own schedule and seed, a fresh "
                        "optimiser; the record counts both stages)")
    t.add_argument("--device", default=None)
    t.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    t.add_argument("--no-resume", action="store_true", help="start afresh even if a .state.pt exists")
    t.set_defaults(func=_cmd_train)

    pt = sub.add_parser("pretrain", help="pretrain a backbone with cross entropy over all training classes "
                        "(the transfer baselines)")
    pt.add_argument("--out", required=True, help="checkpoint path (its .json and .state.pt go beside it)")
    pt.add_argument("--head", default="centroid", help="the head the checkpoint uses by default: centroid, "
                    "logistic, cosine or finetune (any can be chosen later)")
    pt.add_argument("--train-split", default="vinyals_train")
    pt.add_argument("--val-split", default="vinyals_val")
    pt.add_argument("--image-size", type=int, default=None, help="default: the data set's own (28, or 84)")
    pt.add_argument("--epochs", type=int, default=20)
    pt.add_argument("--batch-size", type=int, default=128)
    pt.add_argument("--lr", type=float, default=1e-3)
    pt.add_argument("--weight-decay", type=float, default=0.0)
    pt.add_argument("--shift", type=int, default=2, help="random shifts of up to this many pixels (0: none)")
    pt.add_argument("--val-episodes", type=int, default=500)
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--device", default=None)
    pt.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    pt.add_argument("--no-resume", action="store_true", help="start afresh even if a .state.pt exists")
    pt.set_defaults(func=_cmd_pretrain)

    hd = sub.add_parser("heads", help="a pretrained baseline with each of its heads on the fixed test episodes")
    hd.add_argument("checkpoint")
    hd.add_argument("--heads", nargs="+", default=["centroid", "logistic", "cosine", "finetune"])
    hd.add_argument("--way", type=int, default=5)
    hd.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    hd.add_argument("--query", type=int, default=15)
    hd.add_argument("--episodes", type=int, default=1000)
    hd.add_argument("--finetune-episodes", type=int, default=None,
                    help="fewer episodes for the (slow) finetune head: the first N of the same episodes")
    hd.add_argument("--protocol", default="vinyals", choices=["vinyals", "background"])
    hd.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    hd.add_argument("--json", help="also write the results to this JSON file")
    hd.set_defaults(func=_cmd_heads)

    sd = sub.add_parser("showdown", help="every method's shipped checkpoint on the same fixed test episodes: "
                        "one table (results/showdown.json and .md)")
    sd.add_argument("--timing-episodes", type=int, default=50,
                    help="episodes per setting on which every method is timed in this run (0: no timing)")
    sd.add_argument("--no-evaluate", action="store_true",
                    help="only collect recorded results; leave cells that nobody evaluated empty")
    sd.add_argument("--threads", type=int, default=1, help="CPU threads for torch (timings are per thread count)")
    sd.add_argument("--json", default=str(REPO_ROOT / "results" / "showdown.json"))
    sd.add_argument("--md", default=str(REPO_ROOT / "results" / "showdown.md"))
    sd.set_defaults(func=_cmd_showdown)

    e = sub.add_parser("evaluate", help="accuracy with 95%% interval on fixed test episodes")
    e.add_argument("checkpoint")
    e.add_argument("--protocol", default="vinyals", choices=["vinyals", "background"])
    e.add_argument("--way", type=int, default=None, help="default: all four standard settings")
    e.add_argument("--shot", type=int, default=1)
    e.add_argument("--query", type=int, default=15)
    e.add_argument("--episodes", type=int, default=1000)
    e.add_argument("--seed", type=int, default=None)
    e.add_argument("--json", help="also write the results to this JSON file")
    e.set_defaults(func=_cmd_evaluate)

    r = sub.add_parser("runs", help="error rate on the official 20 one-shot runs (Lake 2015)")
    r.add_argument("checkpoint")
    r.add_argument("--json", help="also write the results to this JSON file")
    r.set_defaults(func=_cmd_runs)

    rep = sub.add_parser("report", help="the results table, from the shipped checkpoints' metrics files")
    rep.add_argument("--readme", help="rewrite this README's results block instead of printing")
    rep.set_defaults(func=_cmd_report)

    add_clip_commands(sub)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = "fsl-course " + shlex.join(argv)  # recorded beside every result file
    return args.func(args)
