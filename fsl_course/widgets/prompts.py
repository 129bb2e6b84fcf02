"""The prompt playground (notebooks 07 and 08): class names and prompt templates in, zero-shot top-k bars out."""

from __future__ import annotations

import re
from collections.abc import Sequence

import ipywidgets as widgets
import torch

from fsl_course.widgets.base import Explorer


ENSEMBLES = {
    "mean": "average the prompts' embeddings (open_clip)",
    "sum": "add up the prompts' probabilities",
}


def parse_class_names(text: str) -> list[str]:
    """Class names typed by a learner: separated by commas or new lines; blanks and repeats dropped."""
    names = [n.strip() for n in re.split(r"[,\n]", text or "")]
    return list(dict.fromkeys(n for n in names if n))


def parse_templates(text: str) -> list[str]:
    """Prompt templates, one per line, each with ``{}`` where the class name goes; ``ValueError`` otherwise."""
    templates = [t.strip() for t in (text or "").splitlines() if t.strip()]
    if not templates:
        raise ValueError("no template: type one per line, with {} where the class name goes, "
                         "e.g. 'a photo of a {}.'")
    for t in templates:
        try:
            filled = t.format("CLASS")
        except (IndexError, KeyError, ValueError):
            filled = ""
        if t.count("{}") != 1 or "CLASS" not in filled:
            raise ValueError(f"the template {t!r} needs exactly one {{}} where the class name goes, "
                             "e.g. 'a photo of a {}.'")
    return templates


def prompt_probabilities(clip, image_features: torch.Tensor, classnames: Sequence[str],
                         templates: Sequence[str], ensemble: str = "mean", scale: float | None = None) -> torch.Tensor:
    """Zero-shot class probabilities ``[n_images, n_classes]`` from class names and prompt templates.

    ``ensemble="mean"``: each class is the normalised mean of its prompts' normalised embeddings (open_clip's
    ``build_zero_shot_classifier``), and ``softmax(scale * cosine)`` picks among the classes. ``"sum"``: the
    softmax picks among every prompt of every class, and a class gets the total of its prompts' probabilities
    (as the mini-CLIP's ``combination_probabilities``). With one template the two agree. ``scale``: the
    model's own ``exp(logit_scale)`` unless given.
    """
    from fsl_course.clip import zeroshot

    if not classnames:
        raise ValueError("no class names: type at least one, separated by commas")
    if ensemble not in ENSEMBLES:
        raise ValueError(f"ensemble must be one of {', '.join(ENSEMBLES)}, got {ensemble!r}")
    scale = clip.logit_scale if scale is None else scale
    names = [zeroshot.prompt_name(c) for c in classnames]
    if ensemble == "mean":
        weights = zeroshot.zero_shot_classifier(clip, names, list(templates))
        return zeroshot.class_probabilities(image_features, weights, scale)
    prompts = [zeroshot.fill(t, n) for n in names for t in templates]
    owner = [i for i in range(len(names)) for _ in templates]
    return zeroshot.marginal_class_probabilities(image_features, clip.encode_texts(prompts), owner, len(names),
                                                 scale)


class PromptPlayground(Explorer):
    """Type class names and prompt templates; the top-k bars of the images update (``plots.plot_top_k``).

    ``clip``: the notebook's ``ClipModel`` (a pretrained CLIP, its untrained stand-in, or the mini-CLIP, which
    works offline); ``images`` and their ``titles``; ``image_features``: their embeddings if already computed.
    Templates go one per line; several are ensembled as the chooser says (``prompt_probabilities``).
    """

    title = "Prompt playground"

    def __init__(self, clip, images, classnames: Sequence[str], templates: Sequence[str] = ("a photo of a {}.",),
                 titles: Sequence[str] | None = None, image_features: torch.Tensor | None = None, k: int = 5,
                 ensemble: str = "mean", scale: float | None = None, pairs_per_row: int = 2):
        super().__init__()
        self.clip, self.images, self.k, self.scale, self.pairs_per_row = clip, images, k, scale, pairs_per_row
        self.titles = list(titles) if titles is not None else None
        self.image_features = clip.encode_images(images) if image_features is None else image_features
        self.probabilities: torch.Tensor | None = None
        self.classnames: list[str] = []
        self.templates: list[str] = []
        self.classes_text = widgets.Textarea(value=", ".join(classnames), description="classes", rows=3,
                                             continuous_update=False, layout=widgets.Layout(width="95%"),
                                             placeholder="class names, separated by commas")
        self.templates_text = widgets.Textarea(value="\n".join(templates), description="templates", rows=3,
                                               continuous_update=False, layout=widgets.Layout(width="95%"),
                                               placeholder="one per line, {} where the class name goes")
        self.ensemble_dropdown = widgets.Dropdown(options=[(v, k_) for k_, v in ENSEMBLES.items()], value=ensemble,
                                                  description="several templates:",
                                                  style={"description_width": "initial"},
                                                  layout=widgets.Layout(width="440px"))
        self.update_button = widgets.Button(description="update")
        for control in (self.classes_text, self.templates_text, self.ensemble_dropdown):
            control.observe(self.redraw, names="value")
        self.update_button.on_click(self.update_clicked)
        self._layout(self.classes_text, self.templates_text,
                     widgets.HBox([self.ensemble_dropdown, self.update_button]))
        self._computed_for = None  # the inputs behind the probabilities shown
        self.redraw()

    def _inputs(self) -> tuple:
        return self.classes_text.value, self.templates_text.value, self.ensemble_dropdown.value

    def update_clicked(self, *_) -> None:
        """The "update" button: recompute unless the bars already show these inputs (a text box's new value
        arrives, and redraws, as the box loses focus, just before the click)."""
        if self.error is not None or self._computed_for != self._inputs():
            self.redraw()

    def update(self) -> None:
        self.probabilities, self._computed_for = None, None
        self.classnames = parse_class_names(self.classes_text.value)
        if not self.classnames:
            raise ValueError("no class names: type at least one, separated by commas")
        self.templates = parse_templates(self.templates_text.value)
        self.probabilities = prompt_probabilities(self.clip, self.image_features, self.classnames, self.templates,
                                                  self.ensemble_dropdown.value, self.scale)
        self._computed_for = self._inputs()

    @property
    def top(self) -> tuple[torch.Tensor, list[list[str]]]:
        """The top-k probabilities ``[n_images, k]`` and class names of each image."""
        p, i = self.probabilities.topk(min(self.k, len(self.classnames)), dim=1)
        return p, [[self.classnames[j] for j in row] for row in i.tolist()]

    @property
    def predicted(self) -> list[str]:
        return [row[0] for row in self.top[1]]

    def summary(self) -> str:
        n = len(self.classnames) * len(self.templates)
        note = f" {self.clip.noise_note}" if self.clip.noise_note else ""
        return (f"{len(self.classnames)} classes x {len(self.templates)} template"
                f"{'s' if len(self.templates) > 1 else ''} = {n} prompts, {self.clip.name}; "
                f"softmax scale {self.clip.logit_scale if self.scale is None else self.scale:.1f}.{note}")

    def draw(self):
        from fsl_course.clip import plots

        p, names = self.top
        return plots.plot_top_k(self.images, p, names, titles=self.titles, warning=self.clip.warning,
                                pairs_per_row=self.pairs_per_row)
