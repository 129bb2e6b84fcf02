"""Handwriting from outside Omniglot: a test of how the character models carry over to other writers and scans.

``digits`` is the UCI "optical recognition of handwritten digits" set (Alpaydin and Kaynak, 1998) as
scikit-learn ships it inside its package (``sklearn.datasets.load_digits``, so it installs offline with pip):
1797 digits written by 43 people on forms, scanned, and reduced to 8x8 blocks of 0..16 ink pixels each, that is
very low-resolution scans of writers the models never saw. Each becomes an image like Omniglot's: ink bright on
black, the 8x8 block scaled up smoothly to 20x20 and centred in 28x28 (as MNIST centres its digits in a margin).
Ten classes of about 180 images: 10-way episodes. It is for testing only: no model of the course trains on it.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from fsl_course.data.dataset import FewShotDataset

#: The outside handwriting sets, by split name: what each is, for the record.
OUTSIDE_SPLITS = {
    "digits": "UCI handwritten digits (43 writers, 8x8 scans) from scikit-learn, as 28x28 images, ink bright",
}
DIGIT_BOX = 20  # pixels the 8x8 digit is scaled up to, centred in the image (MNIST's convention)


def load_digits_split(image_size: int = 28) -> FewShotDataset:
    """scikit-learn's handwritten digits as a split of 10 classes (``"0"`` .. ``"9"``) of ``image_size`` pixels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # a dependency of the course (and of sentence-transformers): only a broken install
        raise ImportError("the 'digits' split comes with scikit-learn: pip install scikit-learn") from e
    if image_size < 8:
        raise ValueError(f"the digits are 8x8 scans: give an image size of at least 8, not {image_size}")
    data = load_digits()
    box = max(8, round(image_size * DIGIT_BOX / 28))
    offset = (image_size - box) // 2
    labels = torch.as_tensor(data.target)
    counts = torch.bincount(labels, minlength=10)
    images = torch.zeros(10, int(counts.max()), image_size, image_size, dtype=torch.uint8)
    seen = [0] * 10
    for block, label in zip(data.images, data.target):
        ink = Image.fromarray(np.round(block * (255 / 16)).astype(np.uint8), "L")
        digit = np.asarray(ink.resize((box, box), Image.Resampling.BILINEAR))
        images[label, seen[label], offset:offset + box, offset:offset + box] = torch.from_numpy(digit.copy())
        seen[label] += 1
    return FewShotDataset("digits", images, [str(d) for d in range(10)],
                          info={"source": OUTSIDE_SPLITS["digits"]}, counts=counts)
