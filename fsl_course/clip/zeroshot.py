"""Zero-shot classification with CLIP, and CLIP features as a few-shot backbone.

A zero-shot classifier is a matrix of text embeddings, one column per class: each class name is put into one
or more prompt templates (``"a photo of a {}."``), the prompts are encoded and L2-normalised, averaged over
the templates (prompt *ensembling*) and normalised again. An image is classified by cosine similarity to the
columns; ``softmax(100 * cosine)`` turns the similarities into probabilities (100 is CLIP's learned
temperature, ``exp(logit_scale)``). The classifier is built by open_clip's own ``build_zero_shot_classifier``
with open_clip's template lists.

With a few labelled images the classes can also be represented by *image* prototypes (the mean normalised
image embedding per class, as in Prototypical Networks), or by prototypes that start at the text embedding and
move toward the image prototype as shots are added.
"""

from __future__ import annotations

import re
import textwrap
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from fsl_course.methods.protonet import prototypes
from fsl_course.text import TEXT_WIDTH, wrap, wrap_list  # noqa: F401  (wrap, wrap_list: for the notebooks)

#: The 100 CIFAR-100 fine labels, in the official order of the data set's ``meta`` file (label i is entry i);
#: the order is alphabetical. Names with two words are joined by "_", as in the file.
CIFAR100_CLASSES: tuple[str, ...] = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)

#: The seed walkthrough's eight scikit-image pictures and what each shows.
SAMPLE_DESCRIPTIONS: dict[str, str] = {
    "page": "a page of text about segmentation",
    "chelsea": "a facial photo of a tabby cat",
    "astronaut": "a portrait of an astronaut with the American flag",
    "rocket": "a rocket standing on a launchpad",
    "motorcycle_right": "a red motorcycle standing in a garage",
    "camera": "a person looking at a camera on a tripod",
    "horse": "a black-and-white silhouette of a horse",
    "coffee": "a cup of coffee on a saucer",
}

#: The CIFAR-100 class each sample picture shows, where CIFAR-100 has one (a cat or a horse it has not).
SAMPLE_CIFAR100_LABELS: dict[str, str] = {
    "astronaut": "woman",  # Eileen Collins
    "rocket": "rocket",
    "motorcycle_right": "motorcycle",
    "camera": "man",
    "coffee": "cup",
}

#: The seed walkthrough's prompts.
SEED_DESCRIPTION_PREFIX = "This is "
SEED_TEMPLATE = "This is a photo of a {}"


#: words that start with a vowel letter but a consonant sound: "a unicorn", "a one-eyed cat"
A_BEFORE = frozenset({"one", "once", "unicorn", "uniform", "unit", "united", "universe", "university", "unique",
                      "union", "usb", "user", "useful", "utensil", "ukulele", "european", "ewe", "eucalyptus"})
#: words that start with a consonant letter but a vowel sound (a silent h): "an hour"
AN_BEFORE = frozenset({"hour", "hourglass", "honest", "honour", "honor", "heir", "heiress"})

_ARTICLE = re.compile(r"\b([Aa]n?) ([A-Za-z][\w'-]*)")


def article(word: str) -> str:
    """``"an"`` before a vowel sound, else ``"a"``: a vowel letter, except the words of ``A_BEFORE``
    ("a unicorn"), and the silent-h words of ``AN_BEFORE`` ("an hour")."""
    head = re.split(r"[\s_-]", word.strip().lower(), maxsplit=1)[0]
    if head in AN_BEFORE:
        return "an"
    if head in A_BEFORE:
        return "a"
    return "an" if head[:1] in set("aeiou") else "a"


def fix_articles(text: str) -> str:
    """Every "a"/"an" in ``text`` made to agree with the word after it: "a photo of a apple" ->
    "a photo of an apple", "a origami rocket" -> "an origami rocket"."""
    def agree(m: re.Match) -> str:
        right = article(m.group(2))
        return (right.capitalize() if m.group(1)[0] == "A" else right) + " " + m.group(2)

    return _ARTICLE.sub(agree, text)


def prompt_name(label: str) -> str:
    """A class name as it goes into a prompt: ``"aquarium_fish"`` -> ``"aquarium fish"``."""
    return label.replace("_", " ")


def cifar100_prompt_names() -> list[str]:
    return [prompt_name(c) for c in CIFAR100_CLASSES]


def template_sets() -> dict[str, list]:
    """Prompt templates to compare: the bare name, the seed's and the CLIP paper's single prompts, and open_clip's
    two ensembles (``SIMPLE_IMAGENET_TEMPLATES``, 7 prompts; ``OPENAI_IMAGENET_TEMPLATES``, the paper's 80)."""
    from open_clip import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

    return {
        "bare name": ["{}"],
        "seed: 'This is a photo of a {}'": [SEED_TEMPLATE],
        "paper: 'a photo of a {}.'": ["a photo of a {}."],
        f"ensemble of {len(SIMPLE_IMAGENET_TEMPLATES)} (open_clip SIMPLE)": list(SIMPLE_IMAGENET_TEMPLATES),
        f"ensemble of {len(OPENAI_IMAGENET_TEMPLATES)} (open_clip OPENAI)": list(OPENAI_IMAGENET_TEMPLATES),
    }


def fill(template, name: str, articles: bool = True) -> str:
    """A prompt from a template: a ``format`` string or a callable (open_clip's lists hold callables).

    ``articles`` makes every "a"/"an" agree with the next word ("a photo of an apple"; see ``article``).
    """
    text = template(name) if callable(template) else template.format(name)
    return fix_articles(text) if articles else text


def sample_images() -> tuple[list[str], list, list[str]]:
    """The walkthrough's eight scikit-image pictures (shipped with scikit-image, no download):
    ``(names, images as NumPy arrays, descriptions)``."""
    import skimage.data

    names, images = [], []
    for name in SAMPLE_DESCRIPTIONS:
        if name == "motorcycle_right":
            image = skimage.data.stereo_motorcycle()[1]
        else:
            image = getattr(skimage.data, name)()
        names.append(name)
        images.append(image)
    return names, images, [SAMPLE_DESCRIPTIONS[n] for n in names]


def zero_shot_classifier(clip, classnames: Sequence[str], templates: Sequence[str | Callable],
                         num_classes_per_batch: int | None = 10, progress: bool = False,
                         articles: bool = True) -> torch.Tensor:
    """Class weights ``[D, C]`` by open_clip's ``build_zero_shot_classifier``: for each class,
    the mean of its normalised template embeddings, renormalised. ``clip`` is a ``ClipModel``;
    ``articles``: "a photo of an apple", not "a photo of a apple" (see ``fill``)."""
    from open_clip import build_zero_shot_classifier

    # every template as a callable, filled by ``fill`` (format strings and open_clip's lambdas)
    templates = [lambda c, t=t: fill(t, c, articles) for t in templates]
    clip.model.eval()
    weights = build_zero_shot_classifier(
        clip.model, clip.tokenizer, list(classnames), templates,
        num_classes_per_batch=num_classes_per_batch, device=clip.device, use_tqdm=progress)
    return weights.float().cpu()


def class_probabilities(image_features: torch.Tensor, weights: torch.Tensor,
                        scale: float = 100.0) -> torch.Tensor:
    """``softmax(scale * cosine)`` over classes: ``image_features`` [n, D], ``weights`` [D, C]
    -> [n, C]."""
    cosine = F.normalize(image_features.float(), dim=-1) @ F.normalize(weights.float(), dim=0)
    return (scale * cosine).softmax(-1)


def marginal_class_probabilities(image_features: torch.Tensor, caption_features: torch.Tensor,
                                 caption_classes: Sequence[int], num_classes: int,
                                 scale: float = 100.0) -> torch.Tensor:
    """Class probabilities ``[n, C]`` as the sum of the probabilities of each class's captions.

    ``softmax(scale * cosine)`` picks among *all* captions (``caption_features`` [m, D]); a class's
    probability is the total of its captions' (``caption_classes[j]`` is caption ``j``'s class). Unlike
    averaging the template embeddings, this stays sharp when the templates describe different images
    (a small shape at the top, a large one on the left) rather than paraphrase one description.
    """
    probs = class_probabilities(image_features, caption_features.T, scale)  # [n, m]
    index = torch.as_tensor(list(caption_classes), dtype=torch.long)
    return torch.zeros(len(probs), num_classes, dtype=probs.dtype).index_add_(1, index, probs)


def top_k(probs: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest probabilities per row and their class indices, largest first."""
    k = min(k, probs.shape[-1])
    return probs.topk(k, dim=-1)


def compare_templates(clip, image_features: torch.Tensor, true_labels: Sequence[str], classnames: Sequence[str],
                      sets: dict[str, list], scale: float = 100.0) -> list[dict]:
    """For each template set, the probability and rank of each image's true class among ``classnames``.

    ``true_labels`` are entries of ``classnames``. Returns one row per template set: its name, how many
    prompts it encodes, the top-1 accuracy, mean probability of the true class and the rank of each truth.
    """
    truth = torch.tensor([list(classnames).index(t) for t in true_labels])
    names = [prompt_name(c) for c in classnames]
    rows = []
    for name, templates in sets.items():
        probs = class_probabilities(image_features, zero_shot_classifier(clip, names, templates), scale)
        p_true = probs[torch.arange(len(truth)), truth]
        rank = (probs > p_true[:, None]).sum(1) + 1
        rows.append({"templates": name, "prompts": len(templates) * len(classnames),
                     "top1": float((probs.argmax(1) == truth).float().mean()),
                     "p_true": float(p_true.mean()), "ranks": rank.tolist(),
                     "predicted": [classnames[i] for i in probs.argmax(1).tolist()]})
    return rows


def format_top_k(names: Sequence[str], top_probs: torch.Tensor, top_labels: torch.Tensor,
                 classnames: Sequence[str], truth: dict[str, str] | None = None,
                 width: int = TEXT_WIDTH) -> str:
    """Per image its top-k classes with probabilities (and its true class, if ``truth`` has one),
    wrapped to ``width`` characters (continuation lines indented under the first guess)."""
    pad = max([len(n) for n in names] + [4])
    lines = []
    for name, ps, ix in zip(names, top_probs.tolist(), top_labels.tolist()):
        # each guess (and the truth) kept whole on a line: its spaces are held by a placeholder while wrapping
        guesses = ", ".join(f"{classnames[i]}\0{100 * p:.1f}%" for p, i in zip(ps, ix))
        true = "" if truth is None else " [CIFAR-100\0class:\0" + truth.get(name, "none") + "]"
        lines += textwrap.wrap(f"{name:>{pad}}: {guesses}{true}", width, subsequent_indent=" " * (pad + 2),
                               break_on_hyphens=False, break_long_words=False) or [""]
    return "\n".join(line.replace("\0", " ") for line in lines)


def labelled_samples(names: Sequence[str], image_features: torch.Tensor) -> tuple[list[str], torch.Tensor, list[str]]:
    """The sample pictures that show a CIFAR-100 class: ``(names, their features, their true classes)``."""
    keep = [i for i, n in enumerate(names) if n in SAMPLE_CIFAR100_LABELS]
    return ([names[i] for i in keep], image_features[keep], [SAMPLE_CIFAR100_LABELS[names[i]] for i in keep])


#: the classes compared in quick mode: the labelled pictures' classes and a few others
QUICK_CLASSES = ("woman", "rocket", "motorcycle", "man", "cup", "bicycle", "girl", "bottle", "lamp", "tank")


def template_comparison(clip, image_features: torch.Tensor, true_labels: Sequence[str], quick: bool = False,
                        include_80: bool | None = None) -> list[dict]:
    """``compare_templates`` on the 100 CIFAR-100 classes with every template set of ``template_sets()``.

    The 80-prompt ensemble encodes 8,000 prompts: by default only on a GPU (on a CPU it takes many minutes).
    ``quick`` (CI) compares two single prompts and a 2-prompt ensemble on 10 classes, to exercise the code.
    """
    sets = template_sets()
    if quick:
        simple = next(v for k, v in sets.items() if "SIMPLE" in k)
        sets = {k: v for k, v in list(sets.items())[:2]}
        sets["ensemble of 2 (first two of SIMPLE)"] = simple[:2]
        return compare_templates(clip, image_features, true_labels, list(QUICK_CLASSES), sets)
    if include_80 is None:
        include_80 = clip.device.type == "cuda"
    if not include_80:
        sets = {k: v for k, v in sets.items() if "80" not in k}
        print("(the 80-prompt ensemble is left out on a CPU: it encodes 8,000 prompts; pass include_80=True)")
    return compare_templates(clip, image_features, true_labels, CIFAR100_CLASSES, sets)


def format_template_rows(rows: Sequence[dict], names: Sequence[str]) -> str:
    """A text table: per template set, top-1 accuracy, mean probability of the truth, and the
    truth's rank per image (columns headed by the image names, cut to 10 characters)."""
    width = max(len(r["templates"]) for r in rows)
    heads = [n[:10] for n in names]
    cols = [max(4, len(h)) for h in heads]
    head = (f"{'templates':<{width}} prompts top-1 p(true)  "
            + " ".join(f"{h:>{c}}" for h, c in zip(heads, cols)))
    label = "rank of the true class per image (1 = top)"
    if len(head) - width - 23 < len(label):
        label = "rank of the truth (1 = top)"
    lines = [" " * (width + 23) + label, head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['templates']:<{width}} {r['prompts']:>7} {100 * r['top1']:4.0f}% {100 * r['p_true']:6.1f}%  "
                     + " ".join(f"{k:>{c}}" for k, c in zip(r["ranks"], cols)))
    return "\n".join(lines)


# --- CLIP features as a few-shot backbone -----------------------------------------------------------------

def image_prototypes(features: torch.Tensor, labels: torch.Tensor, way: int) -> torch.Tensor:
    """Normalised mean of the normalised support embeddings per class ``[way, D]`` (ProtoNet's prototypes)."""
    return F.normalize(prototypes(F.normalize(features.float(), dim=-1), labels, way), dim=-1)


def text_initialised_prototypes(text_weights: torch.Tensor, features: torch.Tensor | None,
                                labels: torch.Tensor | None, strength: float = 1.0) -> torch.Tensor:
    """Prototypes ``[way, D]`` that start at the text classifier and move toward the image
    prototypes.

    ``p_k = normalise((strength * t_k + sum_i z_i) / (strength + n_k))`` over class ``k``'s
    normalised support embeddings ``z_i``: with no shots it is the zero-shot text embedding
    ``t_k``; each shot counts as much as ``1 / strength`` of the text; with many shots it tends
    to the image prototype. ``text_weights`` is ``[way, D]`` (rows); transpose the classifier's
    ``[D, way]`` first.
    """
    text = F.normalize(text_weights.float(), dim=-1)
    way = text.shape[0]
    if features is None or len(features) == 0:
        return text
    z = F.normalize(features.float(), dim=-1)
    one_hot = F.one_hot(labels, way).to(z.dtype)  # [n, way]
    sums = one_hot.T @ z  # [way, D]
    counts = one_hot.sum(0)[:, None]
    return F.normalize((strength * text + sums) / (strength + counts), dim=-1)


def prototype_scores(query: torch.Tensor, protos: torch.Tensor, scale: float = 100.0) -> torch.Tensor:
    """``scale * cosine`` logits ``[n_query, way]`` of queries against normalised prototypes."""
    return scale * F.normalize(query.float(), dim=-1) @ F.normalize(protos.float(), dim=-1).T


def shot_curves(features: torch.Tensor, labels: torch.Tensor, text_weights: torch.Tensor,
                shots: Sequence[int] = (0, 1, 2, 4, 8), queries: int = 5, episodes: int = 20,
                strength: float = 1.0, seed: int = 0) -> dict[str, dict[int, torch.Tensor]]:
    """Accuracy per episode of three classifiers on CLIP features as shots are added.

    ``features`` [n, D] and ``labels`` [n] (0..way-1) form a pool; in each episode, ``shot`` support and
    ``queries`` query images per class are drawn from it without overlap (the same queries for every shot, so
    the curves are comparable). ``text_weights`` is ``[way, D]``. Returns ``{"text (zero-shot)": {shot: accs},
    "image prototypes": ..., "text-initialised prototypes": ...}`` with per-episode accuracies in [0, 1].
    """
    way = int(labels.max()) + 1
    by_class = [torch.nonzero(labels == c).flatten() for c in range(way)]
    need = max(shots) + queries
    if min(len(ix) for ix in by_class) < need:
        raise ValueError(f"each class needs {need} pool images for {max(shots)} shots and {queries} queries")
    g = torch.Generator().manual_seed(seed)
    out = {"text (zero-shot)": {}, "image prototypes": {}, "text-initialised prototypes": {}}
    for name in out:
        for s in shots:
            out[name][s] = torch.empty(episodes, dtype=torch.float64)
    text = F.normalize(text_weights.float(), dim=-1)
    for e in range(episodes):
        perms = [ix[torch.randperm(len(ix), generator=g)] for ix in by_class]
        q_idx = torch.cat([p[:queries] for p in perms])
        q_lab = labels[q_idx]
        q = features[q_idx]
        zero = (prototype_scores(q, text).argmax(1) == q_lab).double().mean()
        for s in shots:
            s_idx = torch.cat([p[queries:queries + s] for p in perms])
            s_lab = labels[s_idx]
            out["text (zero-shot)"][s][e] = zero
            mixed = text_initialised_prototypes(text, features[s_idx], s_lab, strength)
            out["text-initialised prototypes"][s][e] = (prototype_scores(q, mixed).argmax(1) == q_lab).double().mean()
            if s == 0:
                out["image prototypes"][s][e] = float("nan")  # no images, no image prototypes
            else:
                protos = image_prototypes(features[s_idx], s_lab, way)
                out["image prototypes"][s][e] = (prototype_scores(q, protos).argmax(1) == q_lab).double().mean()
    return out


def summarise_curves(curves: dict[str, dict[int, torch.Tensor]]) -> list[dict]:
    """Rows ``{"method", "shot", "accuracy", "ci95"}`` (percent, 95 % interval over episodes)."""
    from fsl_course.evaluation.evaluate import confidence_interval

    rows = []
    for method, by_shot in curves.items():
        for shot, accs in by_shot.items():
            if torch.isnan(accs).all():
                continue
            mean, ci = confidence_interval(accs)
            rows.append({"method": method, "shot": shot, "accuracy": mean, "ci95": ci})
    return rows


def shapes_pool(way: int = 10, per_class: int = 18, seed: int = 0, image_size: int = 64):
    """A labelled pool of synthetic shapes for few-shot experiments: ``(images [n, 3, S, S], labels [n],
    class names)``; the classes are ``way`` colour-shape pairs (every size and position mixed within a class)."""
    from fsl_course.clip import synthetic

    colours, shapes = list(synthetic.COLOURS), list(synthetic.SHAPES)
    combos = synthetic.combinations()
    if not 1 <= way <= len(combos):
        raise ValueError(f"way must be between 1 and {len(combos)}")
    # walk the colours, shifting the shape each round, so colours and shapes are both spread over the classes
    classes = [f"{colours[i % len(colours)]} {shapes[(i + i // len(colours)) % len(shapes)]}" for i in range(way)]
    classes = list(dict.fromkeys(classes))
    classes += [c for c in combos if c not in classes][:way - len(classes)]
    attrs_by_class = {c: [a for a in synthetic.all_attributes() if a.combination == c] for c in classes}
    g = torch.Generator().manual_seed(seed)
    attrs, labels = [], []
    for k, c in enumerate(classes):
        attrs += synthetic.sample_attributes(attrs_by_class[c], per_class, g)
        labels += [k] * per_class
    return synthetic.render(attrs, g, image_size), torch.tensor(labels), classes


def format_curve_rows(rows: Sequence[dict]) -> str:
    """A text table of ``summarise_curves`` rows: accuracy +- 95 % interval per method and shot."""
    shots = sorted({r["shot"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = max(map(len, methods))
    lines = [f"{'accuracy (%)':<{width}} " + "".join(f"{str(s) + '-shot':>14}" for s in shots)]
    for m in methods:
        cells = {r["shot"]: f"{r['accuracy']:.1f} +- {r['ci95']:.1f}" for r in rows if r["method"] == m}
        lines.append(f"{m:<{width}} " + "".join(f"{cells.get(s, '-'):>14}" for s in shots))
    return "\n".join(lines)
