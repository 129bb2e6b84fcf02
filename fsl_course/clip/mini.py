"""A mini-CLIP trained from scratch on the synthetic captioned shapes, in a few minutes on a CPU.

The model is open_clip's own ``CLIP`` class with tiny towers (a 2-layer ViT on 48x48 images in 12x12 patches,
a 2-layer text transformer on open_clip's tokenizer), trained exactly as CLIP is: a batch of (image, caption)
pairs, cosine similarities times a *learned* temperature ``exp(logit_scale)``, and open_clip's ``ClipLoss`` (the
symmetric cross-entropy that picks each image's caption among the batch's captions, and each caption's image).

Every batch holds distinct captions (a caption space this small would otherwise put the same caption twice in
a batch, and the loss would call one of the two pairs wrong), each with a freshly rendered image, drawn only
from the *training* combinations: the held-out colour-shape pairs are never seen. Afterwards the model
classifies images of the held-out pairs zero-shot, from captions alone.
"""

from __future__ import annotations

import contextlib
import copy
import math
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from fsl_course.io import atomic_torch_save, atomic_write_json, load_tagged
from fsl_course.clip import synthetic
from fsl_course.clip.model import ClipModel
from fsl_course.config import REPO_ROOT
from fsl_course.text import plural, wrap

RESULTS = REPO_ROOT / "results"
DEFAULT_OUT = RESULTS / "mini_clip.json"
FORMAT = 1
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)

#: the tiny towers (open_clip ``CLIP`` arguments); ``vocab_size`` is set from the tokenizer (``mini_config``)
MINI_CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": synthetic.IMAGE_SIZE, "patch_size": 12, "width": 64, "layers": 2,
                   "head_width": 32, "mlp_ratio": 2.0},
    "text_cfg": {"context_length": 16, "vocab_size": 0, "width": 64, "heads": 2, "layers": 2,
                 "mlp_ratio": 2.0},
}


@dataclass
class MiniClipConfig:
    steps: int = 1500
    batch_size: int = 128  # distinct captions per batch (at most the number of training captions, 240)
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: int = 100
    seed: int = 0
    eval_images: int = 2000  # held-out test images (and as many of the training combinations)
    held_out: list = field(default_factory=lambda: [list(p) for p in synthetic.HELD_OUT])
    model: dict = field(default_factory=lambda: copy.deepcopy(MINI_CONFIG))
    log_every: int = 25
    threads: int | None = 1  # CPU threads while training: the towers are too small to gain from more, and
    #                          lose badly when they compete for a busy CPU; None keeps torch's setting


def build_mini_clip(config: dict, seed: int = 0):
    """An untrained open_clip ``CLIP`` with tiny towers: ``mini_config(tokenizer)``, i.e. ``MINI_CONFIG`` with
    the text tower's vocabulary sized to the tokenizer (``build_from_config`` does both)."""
    import open_clip

    cfg = config
    if not cfg["text_cfg"].get("vocab_size"):
        raise ValueError("set the text tower's vocab_size from the tokenizer: build_mini_clip(mini_config(tok))")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return open_clip.CLIP(**cfg)


class CaptionTokenizer:
    """open_clip's bundled BPE tokenizer (no download) with its token ids mapped to a small table.

    The captions use about twenty distinct BPE tokens out of CLIP's 49,408, so the mini text tower gets a table
    of just those (learned from the *training* captions), plus padding, "unknown" (any other token), and the
    start and end marks. The end mark gets the largest id, because CLIP's text tower reads its output at the
    position of the largest id.
    """

    def __init__(self, vocabulary: list[int], context_length: int):
        import open_clip

        self.bpe = open_clip.SimpleTokenizer(context_length=context_length)
        self.context_length = context_length
        self.vocabulary = list(vocabulary)
        table = torch.full((self.bpe.vocab_size,), UNKNOWN, dtype=torch.long)
        table[0] = PAD
        for i, token in enumerate(self.vocabulary):
            table[token] = 2 + i
        table[self.bpe.sot_token_id] = len(self.vocabulary) + 2
        table[self.bpe.eot_token_id] = len(self.vocabulary) + 3
        self.table = table
        self.vocab_size = len(self.vocabulary) + 4

    @classmethod
    def from_captions(cls, captions, context_length: int) -> "CaptionTokenizer":
        import open_clip

        bpe = open_clip.SimpleTokenizer(context_length=context_length)
        ids = bpe(list(captions))
        special = {0, bpe.sot_token_id, bpe.eot_token_id}
        return cls(sorted(set(ids.flatten().tolist()) - special), context_length)

    def __call__(self, texts) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        return self.table[self.bpe(list(texts))]

    def decode(self, ids) -> str:
        inverse = {2 + i: t for i, t in enumerate(self.vocabulary)}
        words = [self.bpe.decode([inverse[i]]) if i in inverse else "<unknown> " if i == UNKNOWN else ""
                 for i in torch.as_tensor(ids).tolist()]
        return "".join(words).strip()


PAD, UNKNOWN = 0, 1


def mini_tokenizer(held_out=synthetic.HELD_OUT, context_length: int = MINI_CONFIG["text_cfg"]["context_length"]):
    """The mini-CLIP's tokenizer: open_clip's BPE, its vocabulary cut to the training captions' tokens."""
    train, _ = synthetic.split_attributes([tuple(p) for p in held_out])
    return CaptionTokenizer.from_captions([a.caption for a in train], context_length)


def mini_config(tokenizer: CaptionTokenizer, base: dict | None = None) -> dict:
    """``MINI_CONFIG`` with the text tower's vocabulary sized to ``tokenizer``."""
    cfg = copy.deepcopy(base or MINI_CONFIG)
    cfg["text_cfg"]["vocab_size"] = tokenizer.vocab_size
    cfg["text_cfg"]["context_length"] = tokenizer.context_length
    return cfg


def wrap_mini(model, tokenizer: CaptionTokenizer, trained: bool = True, device=None) -> ClipModel:
    """The mini model as a :class:`ClipModel`, so notebooks use it exactly like a pretrained CLIP."""
    import open_clip

    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    model.eval()
    return ClipModel(model=model, preprocess=open_clip.image_transform(size, is_train=False, mean=MEAN, std=STD),
                     tokenizer=tokenizer, name="mini-CLIP",
                     pretrained="trained here on synthetic shapes" if trained else None, trained=trained,
                     device=torch.device(device or "cpu"), mean=MEAN, std=STD, image_size=int(size))


@contextlib.contextmanager
def _threads(n: int | None):
    """Run with ``n`` torch CPU threads, then restore the previous number."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _normalise(images: torch.Tensor) -> torch.Tensor:
    return (images - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def _param_groups(model, weight_decay: float):
    """As open_clip's training script: no weight decay on gains, biases and the temperature; here none on the
    embedding tables (tokens, positions, class token) either."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.ndim < 2 or "ln" in name or "bias" in name or "logit_scale" in name or "embedding" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_at(step: int, cfg: MiniClipConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))


def train_steps(model, tokenizer: CaptionTokenizer, cfg: MiniClipConfig, device=None, progress: bool = True,
                callback=None) -> list[dict]:
    """Train ``model`` in place with ``ClipLoss`` for ``cfg.steps`` steps; the history of loss and temperature."""
    import open_clip

    device = torch.device(device or "cpu")
    model.to(device).train()
    held_out = [tuple(p) for p in cfg.held_out]
    train_attrs, _ = synthetic.split_attributes(held_out)
    batch = min(cfg.batch_size, len(train_attrs))
    image_size = cfg.model["vision_cfg"]["image_size"]
    tokens = tokenizer([a.caption for a in train_attrs])  # every training caption, tokenised once
    index = {a: i for i, a in enumerate(train_attrs)}
    loss_fn = open_clip.ClipLoss()
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    g = torch.Generator().manual_seed(cfg.seed)
    history, running = [], []
    bar = tqdm(range(cfg.steps), desc="mini-CLIP", disable=not progress, leave=False)
    with _threads(cfg.threads):
        for step in bar:
            train_step(model, opt, loss_fn, tokens, index, train_attrs, batch, image_size, g, step, cfg, device,
                        running)
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                record = {"step": step + 1, "loss": sum(running) / len(running),
                          "logit_scale": model.logit_scale.exp().item(), "lr": _lr_at(step, cfg)}
                history.append(record)
                running.clear()
                bar.set_postfix(loss=f"{record['loss']:.3f}", scale=f"{record['logit_scale']:.1f}")
                if callback is not None:
                    callback(record)
    model.eval()
    return history


def train_step(model, opt, loss_fn, tokens, index, train_attrs, batch, image_size, g, step, cfg, device,
                running) -> None:
    """One step: distinct training captions, fresh images, ClipLoss, AdamW, the temperature clamped."""
    for group in opt.param_groups:
        group["lr"] = _lr_at(step, cfg)
    attrs = synthetic.sample_attributes(train_attrs, batch, g, distinct=True)
    images = _normalise(synthetic.render(attrs, g, image_size)).to(device)
    text = tokens[[index[a] for a in attrs]].to(device)
    image_features = model.encode_image(images, normalize=True)
    text_features = model.encode_text(text, normalize=True)
    loss = loss_fn(image_features, text_features, model.logit_scale.exp())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():  # as open_clip does: keep the temperature within [1/100, 1]
        model.logit_scale.clamp_(0, math.log(100))
    running.append(loss.item())


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale) -> torch.Tensor:
    """open_clip's ``ClipLoss`` on one batch of matching pairs (row i of each belongs together)."""
    import open_clip

    return open_clip.ClipLoss()(image_features, text_features, torch.as_tensor(logit_scale))


def clip_loss_by_hand(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale) -> torch.Tensor:
    """The same loss written out: cross-entropy of ``logit_scale * cosine`` toward the diagonal, both ways."""
    logits = logit_scale * F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).T
    labels = torch.arange(len(logits))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


@torch.no_grad()
def combination_probabilities(clip: ClipModel, image_features: torch.Tensor,
                              names: list[str] | None = None) -> torch.Tensor:
    """``[n, len(names)]``: each colour-shape pair's probability as the total of its captions' probabilities
    (every size and position) under ``softmax(exp(logit_scale) * cosine)`` over the captions of ``names``."""
    from fsl_course.clip.zeroshot import marginal_class_probabilities

    names = list(names or synthetic.combinations())
    every = [a for a in synthetic.all_attributes() if a.combination in names]
    captions = clip.encode_texts([a.caption for a in every])
    return marginal_class_probabilities(image_features, captions, [names.index(a.combination) for a in every],
                                        len(names), clip.logit_scale)


def accuracy(pred: torch.Tensor, truth: list[str], names: list[str]) -> float:
    """Fraction of ``pred`` (indices into ``names``) equal to the ``truth`` names."""
    return float((pred == torch.tensor([names.index(t) for t in truth])).float().mean())


def confusion(truth: list[str], pred: torch.Tensor, names: list[str]) -> tuple[torch.Tensor, list[str]]:
    """Counts ``[rows, len(names)]``: rows are the true classes that occur (in ``names`` order)."""
    rows = [n for n in names if n in set(truth)]
    m = torch.zeros(len(rows), len(names), dtype=torch.long)
    for t, p in zip(truth, pred.tolist()):
        m[rows.index(t), p] += 1
    return m, rows


@torch.no_grad()
def zero_shot_report(clip: ClipModel, held_out=synthetic.HELD_OUT, n_images: int = 2000, seed: int = 12345) -> dict:
    """Zero-shot accuracies of a mini-CLIP on fresh images (a fixed seed, never the training stream).

    - ``held_out_accuracy``: images of the held-out combinations, each classified among **all** colour-shape
      combinations (chance ``1 / #combinations``) from captions alone: the probability of a combination is the
      total probability of its captions (every size and position) among all captions.
    - ``held_out_mean_template``: the same, but each combination represented by the mean of its captions'
      embeddings (prompt ensembling as open_clip's ``build_zero_shot_classifier`` does it).
    - ``held_out_single_template``: one plain prompt per combination, ``"a {}"``, unlike any training caption.
    - ``held_out_among_held_out``: choosing only among the held-out combinations (chance 1 / #held out).
    - ``held_out_caption_accuracy``: the exact caption (all four attributes) among every possible caption.
    - ``seen_accuracy``: fresh images of the training combinations, scored like ``held_out_accuracy``.
    - ``retrieval_r1`` / ``retrieval_r5``: text to image, each held-out caption against the held-out images
      (a hit: one of the top 1 / 5 images has exactly that caption).
    """
    from fsl_course.clip.zeroshot import zero_shot_classifier

    held_out = [tuple(p) for p in held_out]
    classes = synthetic.combinations()
    held_names = [f"{c} {s}" for c, s in held_out]
    scale = clip.logit_scale
    test = synthetic.make_shapes(n_images, seed, "held_out", held_out, clip.image_size)
    seen = synthetic.make_shapes(n_images, seed + 1, "train", held_out, clip.image_size)
    f_test, f_seen = clip.encode_images(test.images), clip.encode_images(seen.images)
    every_caption = [a.caption for a in synthetic.all_attributes()]
    f_caps = clip.encode_texts(every_caption)

    def marginal(features, data, names):
        return accuracy(combination_probabilities(clip, features, names).argmax(1), data.combinations, names)

    def ensembled(features, data, names, templates):
        # articles=False: the prompts exactly as the caption vocabulary has them ("a orange square")
        weights = zero_shot_classifier(clip, names, templates, articles=False)
        return accuracy((features @ weights).argmax(1), data.combinations, names)

    pred = (f_test @ f_caps.T).argmax(1)
    caption_acc = float(torch.tensor([every_caption[p] == c for p, c in zip(pred.tolist(), test.captions)])
                        .float().mean())
    _, test_attrs = synthetic.split_attributes(held_out)
    queries = [a.caption for a in test_attrs]
    ranks = (clip.encode_texts(queries) @ f_test.T).topk(5, dim=1).indices  # [n_queries, 5]
    hits = torch.tensor([[test.captions[j] == q for j in row] for q, row in zip(queries, ranks.tolist())])
    return {
        "held_out_accuracy": marginal(f_test, test, classes),
        "chance": 1 / len(classes),
        "held_out_mean_template": ensembled(f_test, test, classes, synthetic.caption_templates()),
        "held_out_single_template": ensembled(f_test, test, classes, ["a {}"]),
        "held_out_among_held_out": marginal(f_test, test, held_names),
        "chance_among_held_out": 1 / len(held_names),
        "held_out_caption_accuracy": caption_acc,
        "chance_caption": 1 / len(every_caption),
        "seen_accuracy": marginal(f_seen, seen, classes),
        "retrieval_r1": float(hits[:, 0].float().mean()),
        "retrieval_r5": float(hits.any(1).float().mean()),
        "test_images": n_images,
        "classes": len(classes),
        "held_out": held_names,
        "logit_scale": scale,
    }


def weights_path(out: Path) -> Path:
    """Where the weights of a run whose metrics go to ``out`` are kept: ``results/mini_clip.pt``."""
    return Path(out).with_suffix(".pt")


def build_from_config(cfg: MiniClipConfig) -> tuple[torch.nn.Module, CaptionTokenizer]:
    """A fresh (untrained) mini-CLIP for ``cfg`` and its tokenizer."""
    tokenizer = mini_tokenizer(cfg.held_out, cfg.model["text_cfg"]["context_length"])
    return build_mini_clip(mini_config(tokenizer, cfg.model), seed=cfg.seed), tokenizer


def save_mini_clip(path: Path | str, model, tokenizer: CaptionTokenizer, cfg: MiniClipConfig, **extra) -> None:
    """Weights, configuration and vocabulary in one file, written atomically, loadable with ``weights_only``."""
    atomic_torch_save({"format": FORMAT, "kind": "mini-clip", "config": asdict(cfg),
                       "vocabulary": list(tokenizer.vocabulary),
                       "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **extra},
                      Path(path))


def load_mini_clip(path: Path | str | None = None, device=None) -> tuple[ClipModel, dict]:
    """A trained mini-CLIP and its saved record (``config``, ``metrics``, ``history``) from ``train_mini_clip``."""
    path = Path(path) if path is not None else weights_path(DEFAULT_OUT)
    blob = load_tagged(path, "mini-clip", FORMAT, "mini-CLIP file", "fsl-course mini-clip")
    cfg = MiniClipConfig(**blob["config"])
    tokenizer = CaptionTokenizer(blob["vocabulary"], cfg.model["text_cfg"]["context_length"])
    model = build_mini_clip(mini_config(tokenizer, cfg.model))
    model.load_state_dict(blob["state_dict"])
    return wrap_mini(model, tokenizer).to(device), blob


def train_mini_clip(out: Path | str = DEFAULT_OUT, config: MiniClipConfig | None = None, device=None,
                    progress: bool = True, command: str | None = None) -> dict:
    """Train a mini-CLIP, evaluate it zero-shot, and write its metrics to ``out`` (JSON) and its weights beside
    it (``.pt``), both atomically. Returns the record written (``metrics``, ``history``, ``train_seconds``...)."""
    from fsl_course.config import seed_everything

    cfg = config or MiniClipConfig()
    seed_everything(cfg.seed)
    model, tokenizer = build_from_config(cfg)
    with _threads(cfg.threads):
        threads = torch.get_num_threads()
        start = time.perf_counter()
        history = train_steps(model, tokenizer, cfg, device=device, progress=progress)
        seconds = time.perf_counter() - start
        clip = wrap_mini(model.cpu(), tokenizer)
        metrics = zero_shot_report(clip, cfg.held_out, cfg.eval_images)
    record = {
        "kind": "mini-clip",
        "metrics": metrics,
        "train_seconds": round(seconds, 1),
        "threads": threads,
        "device": str(device or "cpu"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "first_loss": history[0]["loss"] if history else None,
        "final_loss": history[-1]["loss"] if history else None,
        "logit_scale": model.logit_scale.exp().item(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": asdict(cfg),
        "history": history,
        "command": command or "python " + shlex.join(sys.argv),
    }
    out = Path(out)
    save_mini_clip(weights_path(out), model, tokenizer, cfg, metrics=metrics, history=history)
    atomic_write_json(record, out)
    return record


def read_metrics(path: Path | str = DEFAULT_OUT) -> dict:
    import json

    return json.loads(Path(path).read_text())


def quick_config() -> MiniClipConfig:
    """A few steps of training, to exercise the code in quick mode (CI); the model learns next to nothing."""
    return MiniClipConfig(steps=30, batch_size=64, warmup=5, log_every=5, eval_images=100)


def load_or_train(quick: bool = False, retrain: bool = False, out: Path | str = DEFAULT_OUT,
                  device=None) -> tuple[ClipModel, dict]:
    """The notebook's model: the shipped one (``results/mini_clip.pt`` and ``.json``) if present, else train.

    ``quick`` trains a few steps into a temporary folder (the shipped results are never overwritten);
    ``retrain`` trains the full recipe again and writes ``out``.
    """
    import tempfile

    out = Path(out)
    if not quick and not retrain and out.is_file() and weights_path(out).is_file():
        clip, _ = load_mini_clip(weights_path(out), device=device)
        record = read_metrics(out)
        print(wrap(f"Loaded the shipped mini-CLIP from {weights_path(out).name}: trained for "
                   f"{record['config']['steps']} steps in {record['train_seconds']:.0f} s "
                   f"({plural(record['threads'], 'CPU thread')}) by `{record['command']}`."))
        return clip, record
    if quick:
        cfg = quick_config()
        print(f"Quick mode: training only {cfg.steps} steps, in a temporary folder; the shipped results are not used.")
        with tempfile.TemporaryDirectory(prefix="mini_clip_") as tmp:
            scratch = Path(tmp) / "mini_clip.json"
            record = train_mini_clip(scratch, cfg, device=device, command="fsl_course.clip.mini.load_or_train (quick)")
            clip, _ = load_mini_clip(weights_path(scratch), device=device)
        print(f"Trained in {record['train_seconds']:.0f} s.")
        return clip, record
    cfg = MiniClipConfig()
    print(f"Training the mini-CLIP for {cfg.steps} steps (a few minutes on a CPU) ...")
    record = train_mini_clip(out, cfg, device=device, command="fsl_course.clip.mini.load_or_train")
    clip, _ = load_mini_clip(weights_path(out), device=device)
    print(f"Trained in {record['train_seconds']:.0f} s; wrote {out} and {weights_path(out).name}.")
    return clip, record


def format_metrics(record: dict) -> str:
    """The metrics of a run as text, every accuracy beside its chance level."""
    m = record["metrics"]
    pct = lambda x: f"{100 * x:5.1f} %"  # noqa: E731
    lines = [
        f"held-out combinations: {', '.join(m['held_out'])}  ({m['test_images']} test images)",
        f"zero-shot, among all {m['classes']} colour-shape pairs:   {pct(m['held_out_accuracy'])}"
        f"   (chance {pct(m['chance'])})",
        f"  same, mean of caption embeddings:        {pct(m['held_out_mean_template'])}",
        f"  same, one plain prompt 'a {{}}':          {pct(m['held_out_single_template'])}",
        f"zero-shot, among the held-out pairs only:  {pct(m['held_out_among_held_out'])}"
        f"   (chance {pct(m['chance_among_held_out'])})",
        f"exact caption, among all {len(synthetic.all_attributes())} captions:      "
        f"{pct(m['held_out_caption_accuracy'])}   (chance {pct(m['chance_caption'])})",
        f"seen combinations (fresh images):          {pct(m['seen_accuracy'])}   (chance {pct(m['chance'])})",
        f"text-to-image retrieval, held-out captions: R@1 {pct(m['retrieval_r1'])}, R@5 {pct(m['retrieval_r5'])}",
        f"learned temperature: exp(logit_scale) = {m['logit_scale']:.1f};"
        f" trained {record['config']['steps']} steps in {record['train_seconds']:.0f} s",
    ]
    return "\n".join(lines)


def describe_model(model) -> str:
    """The towers' sizes and parameter counts."""
    v, t = model.visual, model.transformer
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    size = v.image_size[0] if isinstance(v.image_size, (tuple, list)) else v.image_size
    patch = v.patch_size[0] if isinstance(v.patch_size, (tuple, list)) else v.patch_size
    return (f"image tower: ViT, {size}x{size} images in {patch}x{patch} patches ({(size // patch) ** 2} tokens + "
            f"class token), width {v.transformer.width}, {v.transformer.layers} layers: {n(v):,} parameters\n"
            f"text tower: Transformer, {model.context_length} tokens, vocabulary {model.vocab_size}, width "
            f"{t.width}, {t.layers} layers: {n(t) + n(model.token_embedding) + n(model.ln_final):,} parameters\n"
            f"shared embedding: {model.text_projection.shape[1]} dimensions; total {n(model):,} parameters")
