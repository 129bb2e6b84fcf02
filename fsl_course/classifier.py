"""The public face of the course: a few-shot classifier from any method's checkpoint, sklearn style.

>>> clf = fsl_course.load_classifier("checkpoints/protonet_omniglot_1shot.pt")
>>> clf.fit(support_images, ["alpha", "beta", "gamma"])   # pictures (PIL, paths, arrays, tensors), any labels
>>> clf.predict(query_images)                             # -> ["beta", "alpha", ...]
>>> clf.predict_proba(query_images)                       # -> Tensor [n_query, n_way], columns = clf.classes_

The checkpoint carries its preprocessing, so a raw 105x105 Omniglot PNG (or a scan of a drawing) goes straight
in. Images may be PIL images, file paths, numpy arrays or tensors (see
:meth:`~fsl_course.data.images.Preprocess.__call__`): a tensor that breaks the course's convention is refused
with how to fix it, and a colour photo given to a character model draws a warning. Photos of drawings on paper:
``load_classifier(path, photos=True)``. ``fit`` never changes the stored model: it only remembers (or, for MAML,
adapts to) the support set.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch

from fsl_course.data.images import Preprocess
from fsl_course.methods import FewShotMethod
from fsl_course.training.checkpoints import load_method


class FewShotClassifier:
    def __init__(self, method: FewShotMethod, preprocess: Preprocess, device=None, info: dict | None = None):
        self.method = method.eval()
        self.preprocess = preprocess
        self.device = torch.device(device or "cpu")
        self.method.to(self.device)
        self.info = info or {}
        self.classes_: list[Hashable] | None = None
        self._support: torch.Tensor | None = None
        self._labels: torch.Tensor | None = None
        self._adapted = None

    def __repr__(self) -> str:
        state = f"fitted on {len(self.classes_)} classes" if self.classes_ else "not fitted"
        return f"FewShotClassifier({self.method.name}, {state})"

    def fit(self, support_images: Sequence, support_labels: Sequence[Hashable]) -> "FewShotClassifier":
        """Remember the labelled support set (at least two classes, one image per label); a method with an
        ``adapt(support, labels)`` hook (MAML) adapts to it here."""
        images = self.preprocess(support_images)
        labels = list(support_labels.tolist() if isinstance(support_labels, torch.Tensor) else support_labels)
        if len(images) != len(labels):
            raise ValueError(f"fit got {len(images)} support images but {len(labels)} labels; give exactly one "
                             "label per image")
        classes = list(dict.fromkeys(labels))  # first-appearance order
        if len(classes) < 2:
            raise ValueError(f"the support set has only one class ({classes[0]!r}): a few-shot classifier "
                             "needs examples of at least two classes to tell apart")
        index = {c: i for i, c in enumerate(classes)}
        self.classes_ = classes
        self._support = images.to(self.device)
        self._labels = torch.tensor([index[c] for c in labels], device=self.device)
        # a method that learns on the support set (MAML: the inner loop) does so once, here; the stored
        # model is not changed: adapt() returns a new callable, query -> scores
        adapt = getattr(self.method, "adapt", None)
        self._adapted = adapt(self._support, self._labels) if adapt is not None else None
        return self

    @torch.no_grad()
    def decision_function(self, query_images: Sequence) -> torch.Tensor:
        """The method's raw scores ``[n_query, n_way]`` (columns in the order of ``classes_``)."""
        if self._support is None:
            raise RuntimeError("this classifier is not fitted yet: call fit(support_images, support_labels) "
                               "before predict or predict_proba")
        query = self.preprocess(query_images).to(self.device)
        if self._adapted is not None:
            return self._adapted(query).cpu()
        return self.method.scores(self._support, self._labels, query).cpu()

    def predict_proba(self, query_images: Sequence) -> torch.Tensor:
        """Class probabilities ``[n_query, n_way]``; column ``j`` is ``classes_[j]``."""
        return self.method.probabilities(self.decision_function(query_images))

    def predict(self, query_images: Sequence) -> list[Hashable]:
        """The predicted label of each query image."""
        return [self.classes_[i] for i in self.decision_function(query_images).argmax(dim=1).tolist()]


def load_classifier(path, device=None, photos: bool = False) -> FewShotClassifier:
    """Load any method's checkpoint as a :class:`FewShotClassifier`.

    ``photos=True`` is photo mode for a character model: for photos or scans of drawings made on paper (dark or
    coloured ink, grey paper, any pen), which it inverts, crops to the ink and redraws at Omniglot's pen width
    before the model sees them (:meth:`~fsl_course.data.images.Preprocess.for_photos`). Without it a photo of a
    drawing is only inverted and resized, and a pen line much thinner or thicker than Omniglot's costs accuracy.
    """
    method, preprocess, blob = load_method(path)
    if photos:
        preprocess = preprocess.for_photos()
    return FewShotClassifier(method, preprocess, device, info={k: blob[k] for k in ("method", "config")})
