"""CLIP with open_clip: loading, zero-shot classification, CLIP features for few-shot learning, and a
mini-CLIP trained from scratch on synthetic captioned shapes (notebooks 07 and 08).

``open_clip`` is imported only when a model is built, so ``import fsl_course.clip`` stays light.
"""

from fsl_course.clip.model import (
    DEFAULT_MODEL,
    DEFAULT_PRETRAINED,
    OPENAI,
    ClipModel,
    WeightsUnavailableError,
    load_clip,
    load_clip_or_untrained,
    similarity,
    untrained_clip,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRETRAINED",
    "OPENAI",
    "ClipModel",
    "WeightsUnavailableError",
    "load_clip",
    "load_clip_or_untrained",
    "similarity",
    "untrained_clip",
]
