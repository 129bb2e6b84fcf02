"""Supervised pretraining for the transfer baselines: plain cross entropy over all the base classes.

Every image of the training split (``vinyals_train``: 4112 classes x 20 drawings) is one example of its class;
the backbone with a linear layer on top is trained in mini-batches, by Adam with a cosine-decaying learning
rate, optionally with random shifts of up to ``shift`` pixels (data augmentation). The linear layer only
serves pretraining and is thrown away: the few-shot classes are new. After every epoch the backbone is scored
by nearest centroid on fixed 5-way 5-shot **validation** episodes; the best epoch is written to ``out`` as a
``baseline`` checkpoint (atomically, with its record as JSON beside it), and the whole training state to
``out`` with ``.state.pt``, so an interrupted run resumes at the last finished epoch.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from fsl_course.config import autocast, grad_scaler, precision
from fsl_course.data.augment import augment_batch, photo_augmentation, random_shift
from fsl_course.training.checkpoints import save_checkpoint
from fsl_course.data.images import Preprocess, to_float
from fsl_course.data.dataset import FewShotDataset
from fsl_course.episodes import EpisodeSet
from fsl_course.evaluation.evaluate import VAL_SEED, evaluate
from fsl_course.io import atomic_torch_save, atomic_write_json
from fsl_course.methods.baseline import Baseline
from fsl_course.training.episodic import load_state, metrics_path, state_path


@dataclass
class PretrainConfig:
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3  # Adam, decayed to 0 along a cosine over all the steps
    weight_decay: float = 0.0
    shift: int = 2  # random translation by up to this many pixels (0: no augmentation)
    photo_augment: bool = False  # photos: random padded crop, colour jitter and flip (data.augment)
    amp: bool = False  # mixed precision (torch.autocast; config.amp_dtype says which half type on which device)
    val_way: int = 5
    val_shot: int = 5
    val_query: int = 15
    val_episodes: int = 500
    max_batches: int | None = None  # stop each epoch after this many batches (quick mode)
    seed: int = 0
    command: str = ""  # the command line that made this run, recorded beside the checkpoint


def _resume_key(config: PretrainConfig) -> dict:
    d = asdict(config)
    d.pop("command")
    for flag in ("photo_augment", "amp"):  # so the states of runs from before these options still resume
        if not d[flag]:
            d.pop(flag)
    return d


def pretrain(method: Baseline, train_data: FewShotDataset, val_data: FewShotDataset, config: PretrainConfig,
             out: str | Path, preprocess: Preprocess | None = None, device=None, resume: bool = True,
             progress: bool = True) -> dict:
    """Pretrain ``method.backbone`` by classifying all of ``train_data``'s classes; return the record."""
    out = Path(out)
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {config.epochs} and {config.batch_size}")
    device = torch.device(device or "cpu")
    preprocess = preprocess or train_data.preprocess()
    torch.manual_seed(config.seed)
    photo = photo_augmentation(train_data.image_size) if config.photo_augment else None
    # [n_images, C, H, W] uint8, class-major, and their classes: on a GPU, moved there once
    images, labels = train_data.for_device(device).flat()
    labels = labels.to(device)
    dim = method.backbone.output_dim(train_data.image_size)
    classifier = nn.Linear(dim, train_data.n_classes)  # pretraining only: discarded afterwards
    model = nn.ModuleDict({"method": method, "classifier": classifier}).to(device)
    n_batches = math.ceil(len(images) / config.batch_size)
    if config.max_batches:
        n_batches = min(n_batches, config.max_batches)
    total_steps = config.epochs * n_batches
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = grad_scaler(device, config.amp)  # a pass-through unless float16
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    # validation: nearest centroid on the backbone's features, whatever head the method will ship with
    val_method = Baseline(head="centroid")
    val_method.backbone = method.backbone
    val_data = val_data.for_device(device)
    val_set = EpisodeSet(val_data, config.val_way, config.val_shot, config.val_query, config.val_episodes,
                         VAL_SEED)
    val_1shot = EpisodeSet(val_data, config.val_way, 1, config.val_query, config.val_episodes, VAL_SEED)
    epoch, history, best, seconds = 0, [], {"val_accuracy": -1.0, "epoch": 0}, 0.0
    spath = state_path(out)
    stateful = {"model": model, "optimizer": optimizer, "scheduler": scheduler}
    if scaler.is_enabled():
        stateful["scaler"] = scaler
    state = load_state(spath, _resume_key(config), **stateful) if resume else None
    if state is not None:
        epoch, history, best, seconds = state["epoch"], state["history"], state["best"], state["seconds"]
        print(f"Resuming {out.name} from epoch {epoch} of {config.epochs}.")

    def record() -> dict:
        return {"method": method.name, "config": method.config,
                "summary": f"supervised pretraining, {train_data.n_classes}-way cross entropy, {epoch} epochs",
                "train": {**asdict(config)}, "train_split": train_data.name, "val_split": val_data.name,
                "device": str(device), "precision": precision(device, config.amp),
                "preprocess": preprocess.to_dict(), "epochs_done": epoch, "steps_done": epoch * n_batches,
                "train_seconds": round(seconds, 1), "best": best, "history": history}

    while epoch < config.epochs:
        model.train()
        t0 = time.perf_counter()
        generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)  # same batches after a resume
        order = torch.randperm(len(images), generator=generator)
        total_loss, total_correct, seen = 0.0, 0, 0
        bar = tqdm(range(n_batches), desc=f"pretraining epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not progress, leave=False)
        for b in bar:
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            x = images[idx]
            if config.photo_augment:  # on uint8, each image its own draw, the same after a resume
                x = augment_batch(x, photo, seed=(config.seed * 1000 + epoch) * 100_000 + b)
            x = to_float(x)
            if config.shift:
                x = random_shift(x, config.shift, generator)
            x, y = x.to(device), labels[idx]
            with autocast(device, config.amp):
                logits = classifier(method.backbone(x))
                loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total_loss += loss.item() * len(y)
            total_correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            if b % 50 == 0:
                bar.set_postfix(loss=f"{total_loss / seen:.3f}")
        bar.close()
        epoch += 1
        seconds += time.perf_counter() - t0
        val = evaluate(val_method, val_set, device, progress=False)
        val1 = evaluate(val_method, val_1shot, device, progress=False)
        entry = {"epoch": epoch, "step": epoch * n_batches, "train_loss": total_loss / seen,
                 "train_accuracy": 100 * total_correct / seen, "lr": scheduler.get_last_lr()[0],
                 "seconds": round(seconds, 1), "val_accuracy": val.mean, "val_ci95": val.ci95,
                 "val_1shot_accuracy": val1.mean, "val_1shot_ci95": val1.ci95}
        history.append(entry)
        improved = val.mean > best["val_accuracy"]
        if improved:
            best = {"val_accuracy": val.mean, "val_ci95": val.ci95, "epoch": epoch}
            save_checkpoint(out, method, preprocess, metrics={"best": best}, train=record()["train"],
                            history=history)
        if progress:
            print(f"epoch {epoch}/{config.epochs}: train loss {entry['train_loss']:.3f}, train accuracy "
                  f"{entry['train_accuracy']:.1f} %, validation {config.val_way}-way {config.val_shot}-shot "
                  f"{val} (1-shot {val1}){' (best)' if improved else ''}, {seconds / 60:.1f} min")
        atomic_torch_save({"config": _resume_key(config), **{k: part.state_dict() for k, part in stateful.items()},
                           "epoch": epoch, "history": history, "best": best, "seconds": seconds}, spath)
        atomic_write_json(record(), metrics_path(out))
    return record()


def load_or_pretrain(name: str = "baseline_omniglot", config: PretrainConfig | None = None,
                     head: str = "centroid", device=None):
    """What the notebooks call: the shipped ``checkpoints/NAME.pt`` if there is one, else pretrain.

    ``FSL_COURSE_RETRAIN=1`` pretrains from scratch with ``config``, by default the shipped checkpoint's own
    settings (into the data folder, never over the shipped file); quick mode pretrains a handful of batches.
    Returns ``(method in eval mode, record)``.
    """
    from fsl_course.config import checkpoints_dir, data_dir, quick_mode, retrain
    from fsl_course.data.omniglot import load_omniglot
    from fsl_course.training.checkpoints import load_method, shipped_settings

    shipped = checkpoints_dir() / f"{name}.pt"
    if shipped.is_file() and not retrain() and not quick_mode():
        print(f"Loaded the shipped checkpoint {shipped.name} (FSL_COURSE_RETRAIN=1 pretrains from scratch).")
        method, _, _ = load_method(shipped)
        return method.configure(head=head), json.loads(metrics_path(shipped).read_text())
    config = config or PretrainConfig(**shipped_settings(name)[0])
    if quick_mode():
        config = replace(config, epochs=2, max_batches=5, val_episodes=5)
    out = data_dir() / "checkpoints" / ("quick" if quick_mode() else "") / f"{name}.pt"
    print(f"Pretraining into {out} ({config.epochs} epochs).")
    if quick_mode():
        print("QUICK MODE: a backbone pretrained for a handful of batches; its numbers below mean nothing.")
    train_data = load_omniglot("vinyals_train", quiet=True)
    val_data = load_omniglot("vinyals_val", quiet=True)
    pretrain(Baseline(head=head), train_data, val_data, config, out, device=device, resume=not quick_mode(),
             progress=not quick_mode())
    method, _, _ = load_method(out)
    return method.configure(head=head), json.loads(metrics_path(out).read_text())


def first_episodes(episodes: EpisodeSet, n: int) -> EpisodeSet:
    """The first ``n`` episodes of a fixed set (the same episodes, fewer of them)."""
    if not 1 <= n <= len(episodes):
        raise ValueError(f"n must be between 1 and {len(episodes)}, got {n}")
    subset = copy.copy(episodes)
    subset.classes, subset.items = episodes.classes[:n], episodes.items[:n]
    subset.describe = lambda: f"the first {n} of {episodes.describe()}"
    return subset


def evaluate_heads(checkpoint, heads=("centroid", "logistic", "cosine", "finetune"), shots=(1, 5), way: int = 5,
                   n_episodes: int = 1000, finetune_episodes: int | None = None, query: int = 15,
                   protocol: str = "vinyals", json_path=None, command: str = "", progress: bool = True,
                   device=None, split: str | None = None) -> dict:
    """Score a ``baseline`` checkpoint with each head on the protocol's fixed test episodes (or on ``split``'s,
    ``mini_val`` say, where a head is chosen).

    Returns ``{head: {"5-way 1-shot": EvalResult, ...}}`` and, with ``json_path``, writes the results (and each
    head's options) there. ``finetune_episodes`` scores the slow finetune head on the first N episodes only.
    """
    from fsl_course.evaluation.evaluate import PROTOCOLS, TEST_SEED, load_test_split, setting_name
    from fsl_course.training.checkpoints import load_method

    method, pre, _ = load_method(checkpoint)
    if method.name != "baseline":
        raise ValueError(f"{checkpoint} holds a {method.name} model; heads are an option of baseline checkpoints")
    device = torch.device(device or "cpu")
    method.to(device)
    name = split or PROTOCOLS[protocol]["test"]
    test = load_test_split(name, pre).for_device(device)
    results, options = {}, {}
    for head in heads:
        method.configure(head=head)
        options[head] = {k: method.option(k) for k in ("steps", "lr", "weight_decay")} | {
            "scale": method.config["scale"]}
        results[head] = {}
        for shot in shots:
            episodes = EpisodeSet(test, way, shot, query, n_episodes, TEST_SEED)
            if head == "finetune" and finetune_episodes and finetune_episodes < n_episodes:
                episodes = first_episodes(episodes, finetune_episodes)
            r = evaluate(method, episodes, device, progress=progress)
            results[head][setting_name(way, shot)] = r
            print(f"{head:>9} {setting_name(way, shot)}: {r}  ({r.description}; {r.ms_per_episode:.1f} ms per "
                  "episode)")
    if json_path:
        # added to what the file holds already (other heads, other settings), each result with its command
        old = json.loads(Path(json_path).read_text()) if Path(json_path).is_file() else {}
        if old and (old.get("checkpoint") != str(checkpoint) or old.get("protocol") != protocol
                    or old.get("split") != split):
            where = old.get("split") or old.get("protocol")
            raise ValueError(f"{json_path} holds results of {old.get('checkpoint')} ({where}); write these to "
                             "another file")
        merged = old.get("results", {})
        for h, rs in results.items():
            merged.setdefault(h, {}).update({k: {**r.to_dict(), "command": command} for k, r in rs.items()})
        atomic_write_json({"checkpoint": str(checkpoint), "protocol": protocol, "split": split,
                           "command": command, "device": str(device),
                           "options": {**old.get("options", {}), **options}, "results": merged}, Path(json_path))
    return results


def recorded_heads(name: str = "baseline_omniglot", folder: Path | None = None) -> dict:
    """The shipped ``NAME.heads.json`` (``fsl-course heads ... --json``): ``{head: {setting: Recorded}}``."""
    from fsl_course.config import checkpoints_dir
    from fsl_course.evaluation.report import Recorded

    path = Path(folder or checkpoints_dir()) / f"{name}.heads.json"
    if not path.is_file():
        raise FileNotFoundError(f"no recorded head results at {path}: run `fsl-course heads checkpoints/{name}.pt "
                                f"--json {path}`")
    results = json.loads(path.read_text())["results"]
    return {head: {k: Recorded(r["accuracy"], r["ci95"], r["episodes"]) for k, r in rs.items()}
            for head, rs in results.items()}
