"""The pixel-space nearest-neighbour baseline: no learning at all.

A query takes the label of the nearest support image, by Euclidean distance between the raw pixel values
(an image of ``H x W`` pixels is a point in ``H*W`` dimensions). Every few-shot method should beat it; how
far it falls short shows how poorly raw pixel distance captures what makes two drawings the same character.
"""

from __future__ import annotations

import torch

from fsl_course.methods.base import FewShotMethod, check_labels


def class_min_distances(query: torch.Tensor, support: torch.Tensor, support_labels: torch.Tensor,
                        way: int) -> torch.Tensor:
    """``[n_query, way]``: the Euclidean distance from each query to the nearest support image of each class."""
    q = query.flatten(1).double()
    s = support.flatten(1).double()
    # |q - s|^2 = |q|^2 + |s|^2 - 2 q.s: one matrix product (fast), in double precision so that rounding
    # (about 1e-13 here) stays far below any real difference between two images
    d2 = q.pow(2).sum(1)[:, None] + s.pow(2).sum(1)[None, :] - 2 * q @ s.T
    d = d2.clamp_min_(0).sqrt_()  # [n_query, n_support]
    nearest = d.new_full((len(q), way), float("inf"))
    return nearest.scatter_reduce(1, support_labels.to(d.device).expand(len(q), -1), d, reduce="amin")


class PixelNN(FewShotMethod):
    """1-nearest-neighbour in pixel space: ``scores[i, k]`` = minus the distance from query ``i`` to the
    closest support image of class ``k``, so the argmax is the nearest neighbour's label. No parameters."""

    name = "pixel_nn"

    def __init__(self):
        super().__init__()

    def scores(self, support, support_labels, query):
        way = check_labels(support_labels)
        if support.shape[1:] != query.shape[1:]:
            raise ValueError(f"support images {tuple(support.shape[1:])} and query images "
                             f"{tuple(query.shape[1:])} must have the same shape to compare pixels")
        dtype = query.dtype if query.is_floating_point() else torch.get_default_dtype()
        return -class_min_distances(query, support, support_labels, way).to(dtype)
