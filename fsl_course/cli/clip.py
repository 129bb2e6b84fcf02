"""The CLIP commands of ``fsl-course``: ``fsl-course mini-clip`` trains the mini-CLIP and writes its metrics.

``fsl_course.cli.build_parser`` adds them with ``add_commands(sub)``, as it does every group's.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from fsl_course.cli.parsing import add_command, positive


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


def add_commands(subparsers) -> None:
    """Add ``mini-clip`` to the ``fsl-course`` sub-command parsers."""
    m = add_command(subparsers, "mini-clip", "train the mini-CLIP on synthetic shapes; write its metrics")
    m.add_argument("--out", default=None,
                   help="metrics JSON (default: results/mini_clip.json); the weights go beside it (.pt)")
    m.add_argument("--steps", type=positive, default=None, help="training steps (default: 1500)")
    m.add_argument("--batch-size", type=positive, default=None, help="distinct captions per batch (default: 128)")
    m.add_argument("--lr", type=float, default=None, help="AdamW's learning rate (default: the config's)")
    m.add_argument("--seed", type=int, default=0, help="random seed (data and initial weights)")
    m.add_argument("--eval-images", type=positive, default=None, help="test images per split (default: 2000)")
    m.add_argument("--device", default=None, help="cpu, cuda or mps (default: FSL_COURSE_DEVICE, else the best "
                   "one available)")
    m.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch while training (default: 1; 0: torch's default)")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.set_defaults(func=_cmd_mini_clip)
