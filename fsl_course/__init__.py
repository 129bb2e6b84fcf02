"""fsl_course: the package behind the few-shot learning course.

Every method the notebooks teach lives here once, tested; the notebooks explain and call it.
"""

__version__ = "0.1.0"


def load_classifier(path, device=None, photos: bool = False):
    """A few-shot classifier from any method's checkpoint: ``fit(support_images, labels)``, ``predict``
    (``photos=True``: photo mode, for photos of drawings on paper; see :func:`fsl_course.classifier.load_classifier`)."""
    from fsl_course.classifier import load_classifier as _load

    return _load(path, device=device, photos=photos)
