"""The episodic training loop every method uses.

One step = one training episode (its images varied by ``augment``, if set: :mod:`fsl_course.data.augment`):
the method's ``loss(episode)``, a gradient step (Adam), and a learning rate
that is multiplied by ``lr_gamma`` every ``lr_step`` episodes. With ``meta_batch`` > 1 (MAML's meta-batches of
tasks) the gradients of ``meta_batch`` episodes are averaged before each Adam step; every count stays in
episodes. Every ``val_every`` episodes the method is scored on a fixed set of validation episodes; the best
model by validation accuracy is written to ``out`` (atomically, with its metrics history as JSON beside it),
and the whole training state (model, optimiser, scheduler, the episode stream's random state, history) to
``out`` with ``.state.pt``, so an interrupted run resumes where it stopped and produces the same result.
Without a validation split the last model is kept (model selection never looks at test episodes).

Under ``torchrun`` the same loop runs in several processes (:mod:`fsl_course.training.distributed`): each rank
samples its own episodes (seed + rank), takes ``meta_batch / world size`` episodes of every meta-batch, and
the gradients are averaged over the ranks before each Adam step, so one step is the step of a single process
over the union of the ranks' episodes; rank 0 alone validates, logs, shows the progress bar and writes the
checkpoint and the training state (which holds every rank's episode stream, so a resumed run continues each).
The record says how many processes made it (``world_size``), on which device and in what precision.

On a GPU the training and validation splits move to it once (:meth:`FewShotDataset.for_device`), so episodes
are gathered there; ``amp`` runs each episode's forward pass and loss under ``torch.autocast``
(:func:`fsl_course.config.autocast`), with gradient scaling where the half type is float16. Validation runs in
float32.

A run can continue another: ``init`` names a checkpoint whose weights it starts from (a new *stage*, with its
own schedule, seed and a fresh optimiser). Its record then counts the whole training: ``episodes_done``,
``train_seconds`` and ``history`` include the earlier stage's, ``init`` holds that stage's record (settings,
command, best), and the model the stage starts from is validated first, so it is kept if nothing beats it.

``init`` may also name another method's checkpoint with the same backbone, a pretrained transfer baseline's
above all (``fsl-course pretrain``): the stage then starts from that backbone alone (the rest of the model, a
relation module say, from its random initialisation), as Meta-Baseline (Chen et al. 2021) meta-trains a
pretrained network. Its counts start at zero (the earlier training was not in episodes), ``train_seconds``
still includes the earlier training's, and ``init`` keeps that record whole, its history with it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from fsl_course.config import autocast, grad_scaler, precision
from fsl_course.training import distributed
from fsl_course.training.checkpoints import save_checkpoint
from fsl_course.io import atomic_torch_save, atomic_write_json
from fsl_course.data.images import Preprocess
from fsl_course.data.dataset import FewShotDataset
from fsl_course.episodes import EpisodeSampler, EpisodeSet
from fsl_course.evaluation.evaluate import VAL_SEED, evaluate
from fsl_course.methods import FewShotMethod


@dataclass
class TrainConfig:
    way: int = 60
    shot: int = 5
    query: int = 5
    episodes: int = 10_000
    lr: float = 1e-3
    lr_step: int = 2000
    lr_gamma: float = 0.5
    weight_decay: float = 0.0
    val_way: int = 5
    val_shot: int | None = None  # default: the training shot
    val_query: int = 15
    val_episodes: int = 200
    val_every: int = 500
    seed: int = 0
    meta_batch: int = 1  # episodes whose gradients are averaged per optimiser step (MAML: tasks per meta-batch)
    amp: bool = False  # mixed precision (torch.autocast; config.amp_dtype says which half type on which device)
    augment: str = ""  # a training augmentation of data.augment.EPISODE_AUGMENTATIONS ("strokes"); "": none
    init: str = ""  # a checkpoint to start from (a continued run, a new stage); "": random initialisation
    command: str = ""  # the command line that made this run, recorded beside the checkpoint
    extra: dict = field(default_factory=dict)


STAGE_START = "start of a stage"  # the note on the history entry where a continued stage starts


def state_path(out: Path) -> Path:
    return Path(out).with_suffix(".state.pt")


def metrics_path(out: Path) -> Path:
    return Path(out).with_suffix(".json")


def train(method: FewShotMethod, train_data: FewShotDataset, val_data: FewShotDataset | None,
          config: TrainConfig, out: str | Path, preprocess: Preprocess | None = None, device=None,
          resume: bool = True, progress: bool = True) -> dict:
    """Train ``method`` episodically; return the metrics dict (also written to ``out`` as JSON). Under torchrun,
    in every process (see the module's docstring); the process group lives for this call, unless the caller
    made one."""
    with distributed.process_group(device) as device:
        return _train(method, train_data, val_data, config, Path(out), preprocess, device, resume, progress)


def _train(method: FewShotMethod, train_data: FewShotDataset, val_data: FewShotDataset | None,
           config: TrainConfig, out: Path, preprocess: Preprocess | None, device: torch.device, resume: bool,
           progress: bool) -> dict:
    if not any(p.requires_grad for p in method.parameters()):
        raise ValueError(f"{method.name} has no parameters to train: evaluate it directly instead "
                         "(fsl_course.evaluation.evaluate.evaluate)")
    for name in ("way", "shot", "query", "episodes", "val_way", "val_query", "val_episodes", "val_every", "lr_step"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")
    for what, way, shot in (("trained", config.way, config.shot), ("validated", config.val_way,
                                                                   config.val_shot or config.shot)):
        why = method.unsupported(way, shot)
        if why:
            raise ValueError(f"this {method.name} model cannot be {what} on {way}-way {shot}-shot episodes: it is "
                             f"{why} (train another with its way option, e.g. --set way={way})")
    if config.meta_batch < 1 or config.episodes % config.meta_batch or config.val_every % config.meta_batch:
        raise ValueError(f"meta_batch={config.meta_batch} must be >= 1 and divide episodes ({config.episodes}) and "
                         f"val_every ({config.val_every}): checkpoints are written between meta-batches")
    augmentation = None
    if config.augment:
        from fsl_course.data.augment import EPISODE_AUGMENTATIONS

        if config.augment not in EPISODE_AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {config.augment!r}; choose one of "
                             f"{', '.join(sorted(EPISODE_AUGMENTATIONS))}")
        if train_data.channels != 1:
            raise ValueError(f"the {config.augment!r} augmentation is for characters, but {train_data.name!r} "
                             "holds photos")
        augmentation = EPISODE_AUGMENTATIONS[config.augment]
    world, main = distributed.world_size(), distributed.is_main()
    share = distributed.local_batch(config.meta_batch)  # this rank's episodes of each meta-batch
    preprocess = preprocess or train_data.preprocess()
    torch.manual_seed(distributed.rank_seed(config.seed))
    method.to(device).train()
    distributed.broadcast_module(method)
    train_data = train_data.for_device(device)  # moved once (to a GPU), not per episode
    val_data = val_data.for_device(device) if val_data is not None else None
    scaler = grad_scaler(device, config.amp)  # a pass-through unless float16
    optimizer = torch.optim.Adam(method.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step, gamma=config.lr_gamma)
    sampler = EpisodeSampler(train_data, config.way, config.shot, config.query,
                             seed=distributed.rank_seed(config.seed))
    val_shot = config.val_shot or config.shot
    val_set = (EpisodeSet(val_data, config.val_way, val_shot, config.val_query, config.val_episodes, VAL_SEED)
               if val_data is not None else None)
    step, history, best, seconds = 0, [], {"val_accuracy": -1.0, "step": 0}, 0.0
    spath = state_path(out)
    continues_itself = bool(config.init) and Path(config.init).resolve() == out.resolve()
    key = _config_key(config, world)
    if continues_itself and spath.is_file() and _state_key(spath) != key:
        if main:
            print(f"{spath.name} is the state of the stage that this run continues; it will be replaced.")
        resume = False
    stateful = {"model": method, "optimizer": optimizer, "scheduler": scheduler}
    if scaler.is_enabled():
        stateful["scaler"] = scaler
    state = load_state(spath, key, **stateful) if resume else None
    earlier = None  # the record of the stage this run continues (config.init)
    if state is not None:  # every rank loads the same state; each continues its own episode stream
        sampler.set_state(state["sampler"] if world == 1 else state["sampler"][distributed.rank()])
        step, history, best, seconds = state["step"], state["history"], state["best"], state["seconds"]
        earlier = state.get("init_record")
        if main:
            print(f"Resuming {out.name} from episode {step} of {config.episodes}.")
    elif config.init:
        earlier = start_from(method, config.init)
    same = earlier is not None and earlier["method"] == method.name  # False: only another's backbone was taken
    base = earlier["episodes_done"] if same else 0  # episodes before this stage

    def record() -> dict:
        out_record = {"method": method.name, "config": method.config,
                      "train": {**asdict(config), "val_shot": val_shot}, "train_split": train_data.name,
                      "val_split": val_data.name if val_data is not None else None,
                      "preprocess": preprocess.to_dict(), "world_size": world, "device": str(device),
                      "precision": precision(device, config.amp),
                      "episodes_done": base + step,
                      "train_seconds": round(seconds + (earlier["train_seconds"] if earlier else 0.0), 1),
                      "best": best, "history": (earlier["history"] if same else []) + history}
        if earlier:  # another method's history is of other training (epochs of batches): it stays in init
            out_record.update(init={k: v for k, v in earlier.items() if k != "history" or not same},
                              stage_episodes=step, stage_seconds=round(seconds, 1))
        return out_record

    def save(improved: bool, samplers: list) -> None:
        """Rank 0 writes (``samplers``: every rank's episode stream state, from :func:`distributed.gather`)."""
        current = record()
        if improved:
            save_checkpoint(out, method, preprocess, metrics={"best": best}, train=current["train"],
                            history=current["history"])
        atomic_torch_save({"config": key, **{name: part.state_dict() for name, part in stateful.items()},
                           "sampler": samplers[0] if world == 1 else samplers, "step": step,
                           "history": history, "best": best, "seconds": seconds, "init_record": earlier}, spath)
        atomic_write_json(current, metrics_path(out))

    if earlier is not None and state is None and val_set is not None:  # the model this stage starts from
        samplers = distributed.gather(sampler.state())
        if main:
            result = evaluate(method, val_set, device, progress=False)
            best = {"val_accuracy": result.mean, "val_ci95": result.ci95, "step": base}
            history.append({"step": base, "lr": config.lr, "seconds": 0.0, "val_accuracy": result.mean,
                            "val_ci95": result.ci95, "note": f"{STAGE_START} continuing {config.init}"})
            method.train()
            save(True, samplers)

    running_loss, running_acc, n_running = 0.0, 0.0, 0
    bar = tqdm(total=config.episodes, initial=step, desc=f"training {method.name}", unit="episode",
               disable=not (progress and main))
    while step < config.episodes:  # step counts the episodes of all ranks: world of them per pass
        t0 = time.perf_counter()
        episode = sampler.sample().to(device)
        if augmentation is not None:  # its draws: a function of the seed, the rank and the step alone (resumable)
            draws = torch.Generator().manual_seed(distributed.rank_seed(config.seed) * 1_000_003 + step)
            episode = replace(episode, support=augmentation(episode.support, draws),
                              query=augmentation(episode.query, draws))
        with autocast(device, config.amp):
            loss, scores = method.loss(episode)
        # accumulates over this rank's share of a meta-batch
        scaler.scale(loss / share if share > 1 else loss).backward()
        step += world
        if step % config.meta_batch == 0:
            distributed.average_gradients(method)
            scaler.step(optimizer)  # optimizer.step(), after unscaling (and skipped on an overflow) with float16
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            for _ in range(config.meta_batch):  # the learning-rate schedule counts episodes
                scheduler.step()
        seconds += time.perf_counter() - t0
        running_loss += loss.item()
        running_acc += (scores.argmax(1) == episode.query_labels).float().mean().item()
        n_running += 1
        bar.update(world)
        last = step == config.episodes
        if step % config.val_every == 0 or last:
            parts = distributed.gather((sampler.state(), running_loss, running_acc, n_running))
            running_loss, running_acc, n_running = 0.0, 0.0, 0
            if not main:
                continue
            samplers, losses, accuracies, counts = zip(*parts)  # the running means over every rank's episodes
            entry = {"step": base + step, "train_loss": sum(losses) / sum(counts),
                     "train_accuracy": 100 * sum(accuracies) / sum(counts), "lr": scheduler.get_last_lr()[0],
                     "seconds": round(seconds, 1)}
            improved = val_set is None
            if val_set is not None:
                result = evaluate(method, val_set, device, progress=False)
                entry.update(val_accuracy=result.mean, val_ci95=result.ci95)
                improved = result.mean > best["val_accuracy"]
                if improved:
                    best = {"val_accuracy": result.mean, "val_ci95": result.ci95, "step": base + step}
            else:  # no validation split: the latest model is the one kept
                best = {"val_accuracy": None, "step": base + step}
            history.append(entry)
            bar.set_postfix(loss=f"{entry['train_loss']:.3f}", val=f"{entry.get('val_accuracy', 0):.2f}",
                            best=f"{best['val_accuracy'] or 0:.2f}")
            save(improved, list(samplers))
    bar.close()
    return record()


def _state_key(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["config"]


def load_state(path: Path, key: dict, **parts) -> dict | None:
    """The training state at ``path`` (``.state.pt``), if there is one, restored into ``parts`` (name -> an
    object with ``load_state_dict``: model, optimizer, scheduler); ``None`` if there is none. ``key`` holds the
    settings the state was written with: another run's state is refused rather than mixed in."""
    if not Path(path).is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["config"] != key:
        raise ValueError(f"{path} belongs to a run with other settings; delete it or pass resume=False "
                         "(--no-resume) to start afresh")
    for name, part in parts.items():
        part.load_state_dict(state[name])
    return state


def start_from(method: FewShotMethod, path) -> dict:
    """Load the weights of the checkpoint at ``path`` into ``method`` (the start of a continued run) and return
    that checkpoint's training record (its ``.json``), which the new stage's record keeps. A checkpoint of
    another method gives its backbone only, which must be the same network (name and options)."""
    from fsl_course.io import read_json
    from fsl_course.training.checkpoints import read_checkpoint

    blob = read_checkpoint(path)
    same = blob["method"] == method.name
    weights = blob["state_dict"] if same else _backbone_weights(blob, method, path)
    try:
        (method if same else method.backbone).load_state_dict(weights)
    except RuntimeError as e:
        raise ValueError(f"{path} does not fit this {method.name} model (other options?): {e}") from e
    earlier = read_json(metrics_path(path))
    if earlier is None or "train_seconds" not in earlier or (same and "episodes_done" not in earlier):
        raise ValueError(f"{path} has no training record beside it ({metrics_path(path).name}); a continued run "
                         "keeps the record of the stage it continues")
    return {**earlier, "checkpoint": str(path)}


def _backbone_weights(blob: dict, method: FewShotMethod, path) -> dict:
    """The backbone's weights in another method's checkpoint ``blob``, if ``method`` has the same backbone."""
    from fsl_course.backbones import network_identity

    weights = {k[len("backbone."):]: v for k, v in blob["state_dict"].items() if k.startswith("backbone.")}
    if not hasattr(method, "backbone") or not weights:
        raise ValueError(f"{path} holds a {blob['method']} model; a {method.name} run cannot continue it (only "
                         "a method with a backbone can start from another method's backbone)")
    theirs, ours = (network_identity(c.get("backbone", "conv4"), c.get("backbone_config"))
                    for c in (blob["config"], method.config))
    if theirs != ours:
        raise ValueError(f"{path} holds a {blob['method']} model whose backbone ({theirs[0]}, {theirs[1]}) is not "
                         f"this {method.name} model's ({ours[0]}, {ours[1]}); give the run the same backbone and "
                         "input (channels, normalisation)")
    return weights


def _config_key(config: TrainConfig, world_size: int = 1) -> dict:
    """The settings that must match for a resume (not the episode count: a run may be extended), with the
    number of processes of a multi-process run (each has its own episode stream)."""
    d = asdict(config)
    d.pop("episodes")
    d.pop("command")
    if d["meta_batch"] == 1:  # so the states of runs from before meta_batch existed still resume
        d.pop("meta_batch")
    if not d["amp"]:  # likewise for runs from before amp existed
        d.pop("amp")
    if not d["augment"]:  # and before augment existed
        d.pop("augment")
    if not d["init"]:  # likewise for runs from before init existed
        d.pop("init")
    if world_size > 1:
        d["world_size"] = world_size
    return d


def load_or_train(name: str, method_name: str, config: TrainConfig | None = None, train_split: str = "vinyals_train",
                  val_split: str | None = "vinyals_val", image_size: int = 28, device=None,
                  method_config: dict | None = None):
    """What the notebooks call: the shipped checkpoint ``checkpoints/NAME.pt`` if there is one, else train.

    ``FSL_COURSE_RETRAIN=1`` retrains from scratch with ``config`` and ``method_config``, by default the shipped
    checkpoint's own (a progress bar shows the way; the result goes to the data folder, never over the shipped
    file); quick mode trains a handful of episodes. Returns ``(method in eval mode, record)``, where ``record``
    holds the training history and settings.
    """
    from fsl_course.config import checkpoints_dir, data_dir, quick_mode, retrain
    from fsl_course.data.omniglot import load_omniglot
    from fsl_course.methods import build_method
    from fsl_course.training.checkpoints import load_method, shipped_stages

    shipped = checkpoints_dir() / f"{name}.pt"
    if shipped.is_file() and not retrain() and not quick_mode():
        print(f"Loaded the shipped checkpoint {shipped.name} (FSL_COURSE_RETRAIN=1 retrains from scratch).")
        method, _, _ = load_method(shipped)
        return method, json.loads(metrics_path(shipped).read_text())
    if config is None:  # the shipped model's stages, each continuing the one retrained before it
        stages = [(TrainConfig(**settings), options if method_config is None else method_config)
                  for settings, options in shipped_stages(name)]
    else:
        stages = [(config, method_config)]
    folder = data_dir() / "checkpoints" / ("quick" if quick_mode() else "")
    train_data = load_omniglot(train_split, image_size, quiet=True)
    val_data = load_omniglot(val_split, image_size, quiet=True) if val_split else None
    previous = ""
    for i, (config, options) in enumerate(stages, 1):
        out = folder / (f"{name}.pt" if i == len(stages) else f"{name}.stage{i}.pt")
        config = replace(config, init=previous)  # a shipped stage's init is the shipped file: use the retrained one
        if quick_mode():
            config = replace(config, episodes=4, val_every=2, val_episodes=3, lr_step=2,
                             meta_batch=min(config.meta_batch, 2))
        which = "" if len(stages) == 1 else f", stage {i} of {len(stages)}"
        which += f", continuing {Path(previous).name}" if previous else ""
        print(f"Training {method_name} from scratch into {out} ({config.episodes} episodes{which}).")
        if quick_mode() and i == 1:
            print("QUICK MODE: a model trained for a handful of episodes; its numbers below mean nothing.")
        train(build_method(method_name, **(options or {})), train_data, val_data, config, out,
              Preprocess(image_size, invert="auto"), device=device, resume=not quick_mode())
        previous = str(out)
    method, _, _ = load_method(out)
    return method, json.loads(metrics_path(out).read_text())
