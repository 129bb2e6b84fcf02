"""The training commands of ``fsl-course``: ``train`` (episodic) and ``pretrain`` (the transfer baselines)."""

from __future__ import annotations

import torch


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


def add_commands(sub) -> None:
    """Add ``train`` and ``pretrain`` to the ``fsl-course`` sub-command parsers."""
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
