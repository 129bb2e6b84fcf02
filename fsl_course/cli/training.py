"""The training commands of ``fsl-course``: ``train`` (episodic) and ``pretrain`` (the transfer baselines).

``train`` runs in several processes under torchrun, the same command: ``torchrun --nproc_per_node=N --no-python
fsl-course train ...`` (or ``torchrun --nproc_per_node=N -m fsl_course.cli train ...``); see
:mod:`fsl_course.training.distributed`."""

from __future__ import annotations

import torch

from fsl_course.data.augment import EPISODE_AUGMENTATIONS
from fsl_course.cli.parsing import add_amp_option, add_command, add_device_option, parse_settings, positive


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
    from fsl_course.training.distributed import is_main
    from fsl_course.training.episodic import TrainConfig, train

    options = parse_settings(args.set)
    build_method(args.method, **options)  # an unknown option is named before any data is loaded
    device = get_device(args.device)  # and so is a device that is not there
    train_data, val_data = _training_data(args)
    method = build_method(args.method, **method_options(args.method, options, train_data))
    config = TrainConfig(way=args.way, shot=args.shot, query=args.query, episodes=args.episodes, lr=args.lr,
                         lr_step=args.lr_step, lr_gamma=args.lr_gamma, val_way=args.val_way,
                         val_shot=args.val_shot, val_episodes=args.val_episodes, val_every=args.val_every,
                         seed=args.seed, meta_batch=args.meta_batch, init=args.init or "", amp=args.amp,
                         augment=args.augment or "", command=args.command_line)
    record = train(method, train_data, val_data, config, args.out, train_data.preprocess(),
                   device=device, resume=not args.no_resume)
    best = record["best"]
    if is_main():  # under torchrun, rank 0 speaks for the run
        print(f"Done: {args.out} (best validation accuracy {best['val_accuracy']} at episode {best['step']}).")
    return 0


def _cmd_pretrain(args) -> int:
    from fsl_course.config import get_device
    from fsl_course.methods.baseline import Baseline
    from fsl_course.training.distributed import launched
    from fsl_course.training.pretrain import PretrainConfig, pretrain

    if launched():
        raise ValueError("pretrain runs in one process: under torchrun, only 'fsl-course train' shares its work "
                         "across processes; start pretrain without torchrun")
    device = get_device(args.device)
    train_data, val_data = _training_data(args)
    if val_data is None:
        raise ValueError("pretraining selects its epoch on validation episodes; give a --val-split")
    config = PretrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            weight_decay=args.weight_decay, shift=args.shift, photo_augment=args.photo_augment,
                            val_episodes=args.val_episodes, seed=args.seed, amp=args.amp,
                            command=args.command_line)
    options = method_options("baseline", {"head": args.head}, train_data)
    record = pretrain(Baseline(**options), train_data, val_data, config, args.out, train_data.preprocess(),
                      device=device, resume=not args.no_resume)
    best = record["best"]
    print(f"Done: {args.out} (best validation accuracy {best['val_accuracy']:.2f} % at epoch {best['epoch']}).")
    return 0


SPLITS_HELP = ("an Omniglot split (vinyals_train, vinyals_val, vinyals_trainval, background, evaluation, "
               "background_small1, background_small2), a mini-ImageNet split (mini_train, mini_val, mini_test) "
               "or folder:PATH (your own photos, one subfolder per class)")


def add_commands(sub) -> None:
    """Add ``train`` and ``pretrain`` to the ``fsl-course`` sub-command parsers."""
    from fsl_course.methods import METHODS

    t = add_command(sub, "train", "train a method episodically (on Omniglot, mini-ImageNet or your own photos)")
    t.add_argument("method", choices=sorted(METHODS), help="the method to train")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a method option, repeatable (matching: fce=true, scale=...; relation: aggregate=mean; "
                   "maml: way=5, inner_steps=1, inner_lr=0.4, test_inner_steps=3, first_order=true, anil=true)")
    t.add_argument("--out", required=True, help="checkpoint path (its .json and .state.pt go beside it)")
    t.add_argument("--train-split", default="vinyals_train", help=f"the training split: {SPLITS_HELP}")
    t.add_argument("--val-split", default="vinyals_val",
                   help="the validation split that selects the model (as --train-split); 'none' keeps the last model")
    t.add_argument("--rotate", action="store_true", help="add 90/180/270-degree rotations as new classes "
                   "(Omniglot's background splits)")
    t.add_argument("--image-size", type=positive, default=None,
                   help="image side in pixels (default: the data set's own, 28 for Omniglot, 84 for photos)")
    t.add_argument("--way", type=positive, default=60, help="classes per training episode")
    t.add_argument("--shot", type=positive, default=5, help="support images per class in training episodes")
    t.add_argument("--query", type=positive, default=5, help="query images per class in training episodes")
    t.add_argument("--episodes", type=positive, default=10_000, help="training episodes in all")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    t.add_argument("--lr-step", type=positive, default=2000, help="multiply the learning rate by --lr-gamma every "
                   "this many episodes")
    t.add_argument("--lr-gamma", type=float, default=0.5, help="the learning-rate factor of every step")
    t.add_argument("--val-way", type=positive, default=5, help="classes per validation episode")
    t.add_argument("--val-shot", type=positive, default=None, help="shots per validation episode (default: --shot)")
    t.add_argument("--val-episodes", type=positive, default=200, help="validation episodes (fixed, seeded)")
    t.add_argument("--val-every", type=positive, default=500, help="validate and checkpoint every this many "
                   "episodes")
    t.add_argument("--seed", type=int, default=0, help="random seed (episodes and initial weights)")
    t.add_argument("--meta-batch", type=positive, default=1,
                   help="episodes (tasks) whose gradients are averaged per Adam step (MAML: 32 at 5-way); under "
                   "torchrun split evenly across the processes, so a multiple of their number")
    t.add_argument("--init", metavar="CHECKPOINT",
                   help="continue the model of this checkpoint (a new stage: its own schedule and seed, a fresh "
                        "optimiser; the record counts both stages), or start from the backbone of another "
                        "method's, e.g. a pretrained baseline from fsl-course pretrain")
    t.add_argument("--augment", choices=sorted(EPISODE_AUGMENTATIONS),
                   help="vary every training episode's images: strokes (characters: thicker strokes, blur, size, "
                        "position, as other pens and scanners draw them); validation stays as it is")
    add_device_option(t)
    add_amp_option(t)
    t.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    t.add_argument("--no-resume", action="store_true", help="start afresh even if a .state.pt exists")
    t.set_defaults(func=_cmd_train)

    pt = add_command(sub, "pretrain", "pretrain a backbone with cross entropy over all training classes "
                     "(the transfer baselines)")
    pt.add_argument("--out", required=True, help="checkpoint path (its .json and .state.pt go beside it)")
    pt.add_argument("--head", default="centroid", choices=["centroid", "logistic", "cosine", "finetune"],
                    help="the head the checkpoint uses by default (any can be chosen later)")
    pt.add_argument("--train-split", default="vinyals_train", help=f"the training split: {SPLITS_HELP}")
    pt.add_argument("--val-split", default="vinyals_val", help="the validation split that selects the epoch")
    pt.add_argument("--image-size", type=positive, default=None,
                    help="image side in pixels (default: the data set's own, 28 for Omniglot, 84 for photos)")
    pt.add_argument("--epochs", type=positive, default=20, help="passes over the training images")
    pt.add_argument("--batch-size", type=positive, default=128, help="images per optimiser step")
    pt.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (decayed along a cosine)")
    pt.add_argument("--weight-decay", type=float, default=0.0, help="Adam's weight decay")
    pt.add_argument("--shift", type=int, default=2, help="random shifts of up to this many pixels (0: none)")
    pt.add_argument("--photo-augment", action="store_true",
                    help="photos: random padded crop, colour jitter and horizontal flip")
    pt.add_argument("--val-episodes", type=positive, default=500, help="validation episodes (fixed, seeded)")
    pt.add_argument("--seed", type=int, default=0, help="random seed (batches and initial weights)")
    add_device_option(pt)
    add_amp_option(pt)
    pt.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    pt.add_argument("--no-resume", action="store_true", help="start afresh even if a .state.pt exists")
    pt.set_defaults(func=_cmd_pretrain)
