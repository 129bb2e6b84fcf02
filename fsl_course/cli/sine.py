"""The sine-wave toy's command of ``fsl-course`` (notebook 03): ``fsl-course sine`` trains MAML, first-order MAML
and the pretrained baseline on sine tasks, fine-tunes them on new ones, and writes the models and the numbers
(``fsl_course.toys.sine`` does the work)."""

from __future__ import annotations

from fsl_course.cli.parsing import add_command, positive


def _cmd_sine(args) -> int:
    import json

    import torch

    from fsl_course.io import atomic_write_json
    from fsl_course.toys.sine import run_experiment, save_models

    torch.set_num_threads(1)
    command = args.command_line
    models, record = run_experiment(args.iterations, args.k, args.tasks, args.seed)
    record["command"] = command
    for name, r in record["results"].items():
        print(f"{name:10s} MSE after 0 / 1 / 10 steps: {r['mse'][0]:.3f} / {r['mse'][1]:.3f} / {r['mse'][10]:.3f}"
              f"  (± {r['ci95'][1]:.3f} at 1 step; step size {record['eval']['step_sizes'][name]:g})")
    if args.out:
        save_models(args.out, models, record["eval"]["step_sizes"], command, args.k)
    if args.json:
        atomic_write_json(record, args.json)
    else:
        print(json.dumps(record["results"], indent=1))
    return 0


def add_commands(sub) -> None:
    """Add ``sine`` to the ``fsl-course`` sub-command parsers."""
    s = add_command(sub, "sine", "the sine-wave regression toy of the MAML paper (Finn et al. 2017, section 5.1; "
                    "notebook 03): train MAML, FOMAML and a pretrained baseline, fine-tune them on new tasks, "
                    "write the models and results")
    s.add_argument("--iterations", type=positive, default=20_000, help="meta-training iterations of each model")
    s.add_argument("--k", type=positive, default=10, help="points per task (K-shot regression)")
    s.add_argument("--tasks", type=positive, default=1000, help="new tasks the models are tested on")
    s.add_argument("--seed", type=int, default=0, help="random seed")
    s.add_argument("--out", help="write the three models here (JSON: their weights, step sizes and this command)")
    s.add_argument("--json", help="write the results here")
    s.set_defaults(func=_cmd_sine)
