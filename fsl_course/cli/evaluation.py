"""The evaluation commands of ``fsl-course``: ``heads``, ``showdown``, ``evaluate``, ``runs``, ``outside`` and
``report``."""

from __future__ import annotations

from pathlib import Path

import torch

from fsl_course.cli.parsing import add_command, add_device_option, positive
from fsl_course.config import REPO_ROOT, get_device
from fsl_course.evaluation.evaluate import PROTOCOLS, evaluate_checkpoint
from fsl_course.evaluation.outside import MODELS as OUTSIDE_MODELS


def _cmd_heads(args) -> int:
    from fsl_course.training.pretrain import evaluate_heads

    if args.threads:
        torch.set_num_threads(args.threads)
    evaluate_heads(args.checkpoint, args.heads, args.shots, args.way, args.episodes, args.finetune_episodes,
                   args.query, args.protocol, json_path=args.json, command=args.command_line,
                   device=get_device(args.device), split=args.split)
    return 0


def _cmd_showdown(args) -> int:
    from fsl_course.evaluation import showdown

    torch.set_num_threads(args.threads)
    previous = showdown.load(args.json) if Path(args.json).is_file() else None
    record = showdown.build(previous=previous, timing_episodes=args.timing_episodes,
                            evaluate_missing=not args.no_evaluate, command=args.command_line,
                            device=get_device(args.device))
    showdown.write(record, Path(args.json), Path(args.md))
    print(showdown.markdown(record))
    print(f"written: {args.json}, {args.md}")
    return 0


def _cmd_evaluate(args) -> int:
    from fsl_course.io import atomic_write_json

    settings = None if args.way is None else [(args.way, args.shot)]
    device = get_device(args.device)
    results = evaluate_checkpoint(args.checkpoint, args.protocol, settings, args.episodes, args.query, args.seed,
                                  split=args.split, device=device)
    where = args.split or args.protocol
    for name, r in results.items():
        print(f"{where} {name}: {r}  ({r.description}; {r.ms_per_episode:.1f} ms per episode)")
    if args.json:
        atomic_write_json({"checkpoint": str(args.checkpoint), "protocol": args.protocol, "split": args.split,
                           "command": args.command_line, "device": str(device),
                           "results": {k: r.to_dict() for k, r in results.items()}}, Path(args.json))
    return 0


def _cmd_runs(args) -> int:
    from fsl_course.data.runs import score_runs

    from fsl_course.classifier import load_classifier

    result = score_runs(load_classifier(args.checkpoint, device=get_device(args.device)))
    for i, err in enumerate(result["per_run_error"], 1):
        print(f"run {i:02d}: {err:5.1f} % error")
    print(f"official 20 runs (within-alphabet 20-way 1-shot): {result['error']:.2f} % error")
    if args.json:
        from fsl_course.io import atomic_write_json

        atomic_write_json({"checkpoint": str(args.checkpoint), "command": args.command_line,
                           **result}, Path(args.json))
    return 0


def _cmd_outside(args) -> int:
    from fsl_course.evaluation import outside

    torch.set_num_threads(args.threads)
    record = outside.run(args.models, args.split, [(args.way, shot) for shot in args.shots], args.episodes,
                         args.query, command=args.command_line)
    outside.write(record, Path(args.json), Path(args.json).with_suffix(".md"))
    print(outside.markdown(record))
    print(f"written: {args.json} and its table, {Path(args.json).with_suffix('.md')}")
    return 0


def _cmd_report(args) -> int:
    from fsl_course.evaluation.report import results_markdown, update_readme

    if args.readme:
        changed = update_readme(Path(args.readme))
        print(f"{args.readme}: results block {'updated' if changed else 'already up to date'}")
    else:
        print(results_markdown())
    return 0


PROTOCOL_HELP = ("vinyals (Omniglot's Vinyals split, 28x28), background (Omniglot's evaluation alphabets) or "
                 "mini (mini-ImageNet's test classes, 84x84 photos)")


def add_commands(sub) -> None:
    """Add ``heads``, ``showdown``, ``evaluate``, ``runs``, ``outside`` and ``report`` to the sub-command parsers."""
    hd = add_command(sub, "heads", "a pretrained baseline with each of its heads on the fixed test episodes")
    hd.add_argument("checkpoint", help="a baseline checkpoint (fsl-course pretrain)")
    hd.add_argument("--heads", nargs="+", default=["centroid", "logistic", "cosine", "finetune"],
                    help="the heads to score")
    hd.add_argument("--way", type=positive, default=5, help="classes per test episode")
    hd.add_argument("--shots", type=positive, nargs="+", default=[1, 5], help="the shots to score")
    hd.add_argument("--query", type=positive, default=15, help="query images per class")
    hd.add_argument("--episodes", type=positive, default=1000, help="test episodes (fixed, seeded)")
    hd.add_argument("--finetune-episodes", type=positive, default=None,
                    help="fewer episodes for the (slow) finetune head: the first N of the same episodes")
    hd.add_argument("--protocol", default="vinyals", choices=list(PROTOCOLS), help=PROTOCOL_HELP)
    hd.add_argument("--split", help="score on this split instead of the protocol's test split (mini_val, say, to "
                    "choose a head on validation)")
    add_device_option(hd)
    hd.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    hd.add_argument("--json", help="also write the results to this JSON file")
    hd.set_defaults(func=_cmd_heads)

    sd = add_command(sub, "showdown", "every method's shipped checkpoint on the same fixed test episodes: one "
                     "table (results/showdown.json and .md)")
    sd.add_argument("--timing-episodes", type=int, default=50,
                    help="episodes per setting on which every method is timed in this run (0: no timing)")
    sd.add_argument("--no-evaluate", action="store_true",
                    help="only collect recorded results; leave cells that nobody evaluated empty")
    sd.add_argument("--threads", type=positive, default=1, help="CPU threads for torch (timings are per thread "
                    "count)")
    add_device_option(sd)
    sd.add_argument("--json", default=str(REPO_ROOT / "results" / "showdown.json"), help="the results file")
    sd.add_argument("--md", default=str(REPO_ROOT / "results" / "showdown.md"), help="the table, as Markdown")
    sd.set_defaults(func=_cmd_showdown)

    e = add_command(sub, "evaluate", "accuracy with its 95%% interval on fixed test episodes")
    e.add_argument("checkpoint", help="any method's checkpoint")
    e.add_argument("--protocol", default="vinyals", choices=list(PROTOCOLS), help=PROTOCOL_HELP)
    e.add_argument("--split", help="evaluate on this split instead of the protocol's test split (a split name, "
                   "or folder:PATH for your own photos, one subfolder per class)")
    e.add_argument("--way", type=positive, default=None,
                   help="classes per episode (default: the protocol's standard settings)")
    e.add_argument("--shot", type=positive, default=1, help="support images per class (with --way)")
    e.add_argument("--query", type=positive, default=15, help="query images per class")
    e.add_argument("--episodes", type=positive, default=1000, help="test episodes (fixed, seeded)")
    e.add_argument("--seed", type=int, default=None, help="another set of episodes (default: the test seed)")
    add_device_option(e)
    e.add_argument("--json", help="also write the results to this JSON file")
    e.set_defaults(func=_cmd_evaluate)

    r = add_command(sub, "runs", "error rate on the official 20 one-shot runs (Lake 2015)")
    r.add_argument("checkpoint", help="any method's Omniglot checkpoint")
    add_device_option(r)
    r.add_argument("--json", help="also write the results to this JSON file")
    r.set_defaults(func=_cmd_runs)

    o = add_command(sub, "outside", "the character models and the pixel nearest neighbour on the same episodes of "
                    "handwriting from outside Omniglot (results/outside_handwriting.json and .md)")
    o.add_argument("--models", nargs="+", default=list(OUTSIDE_MODELS),
                   help="checkpoints in checkpoints/, by name without .pt")
    o.add_argument("--split", default="digits", help="the outside handwriting: digits (UCI, from scikit-learn)")
    o.add_argument("--way", type=positive, default=10, help="classes per episode")
    o.add_argument("--shots", type=positive, nargs="+", default=[1, 5], help="the shots to score")
    o.add_argument("--query", type=positive, default=15, help="query images per class")
    o.add_argument("--episodes", type=positive, default=1000, help="test episodes (fixed, seeded)")
    o.add_argument("--threads", type=positive, default=1, help="CPU threads for torch")
    o.add_argument("--json", default=str(REPO_ROOT / "results" / "outside_handwriting.json"),
                   help="the results file (the table goes beside it, as .md)")
    o.set_defaults(func=_cmd_outside)

    rep = add_command(sub, "report", "the results table, from the shipped checkpoints' metrics files")
    rep.add_argument("--readme", help="rewrite this README's results block instead of printing")
    rep.set_defaults(func=_cmd_report)
