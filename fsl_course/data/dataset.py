"""The one in-memory layout every data set shares: ``images[c, i]`` is image ``i`` of class ``c``.

Greyscale sets (Omniglot) hold uint8 ``[n_classes, n_per_class, H, W]`` (ink bright); colour sets
(mini-ImageNet, a folder of photos) hold uint8 ``[n_classes, n_per_class, 3, H, W]``. The episode sampler and
the pretraining loop index this tensor directly: no image is decoded during training.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from fsl_course.data.images import Preprocess

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the per-channel statistics torchvision's ImageNet models use
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class FewShotDataset:
    """A labelled image set laid out for episode sampling: ``images[c, i]`` is image ``i`` of class ``c``.

    ``images``: uint8 ``[n_classes, n_per_class, H, W]`` (greyscale, ink bright) or
    ``[n_classes, n_per_class, 3, H, W]`` (RGB); ``class_names[c]`` names class ``c``.
    """

    name: str
    images: torch.Tensor
    class_names: list[str]
    info: dict = field(default_factory=dict)
    counts: torch.Tensor | None = None  # images per class when they differ (the rest of a row is padding)

    def __post_init__(self):
        colour = self.images.dim() == 5 and self.images.shape[2] == 3
        if self.images.dtype != torch.uint8 or not (self.images.dim() == 4 or colour):
            raise ValueError(f"images must be uint8 [n_classes, n_per_class, H, W] (grey) or [n_classes, "
                             f"n_per_class, 3, H, W] (RGB), got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.class_names) != self.images.shape[0]:
            raise ValueError(f"{len(self.class_names)} class names for {self.images.shape[0]} classes")
        if self.counts is not None:
            self.counts = torch.as_tensor(self.counts, dtype=torch.long)
            if self.counts.shape != (self.n_classes,) or not (1 <= self.counts).all() \
                    or (self.counts > self.n_per_class).any():
                raise ValueError(f"counts must give each of the {self.n_classes} classes 1..{self.n_per_class} "
                                 f"images, got {self.counts.tolist()}")

    @property
    def n_classes(self) -> int:
        return self.images.shape[0]

    @property
    def n_per_class(self) -> int:
        return self.images.shape[1]

    def class_counts(self) -> torch.Tensor:
        """How many images each class has: ``[n_classes]`` (all ``n_per_class`` unless ``counts`` says less)."""
        return self.counts if self.counts is not None else torch.full((self.n_classes,), self.n_per_class)

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def channels(self) -> int:
        """1 for greyscale, 3 for RGB."""
        return 3 if self.images.dim() == 5 else 1

    def pick(self, classes, items) -> torch.Tensor:
        """uint8 images ``images[classes, items]`` (broadcast), always with a channel axis: ``[..., C, H, W]``.

        One ``index_select`` on the images as a flat list (row ``c * n_per_class + i``): many times faster than
        advanced indexing with two index tensors, which gathers element by element."""
        classes, items = torch.as_tensor(classes), torch.as_tensor(items)
        rows = (classes * self.n_per_class + items).to(self.images.device)
        out = self.images.flatten(0, 1).index_select(0, rows.reshape(-1))
        out = out.view(*rows.shape, *self.images.shape[2:])
        return out if self.channels == 3 else out.unsqueeze(-3)

    def flat(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image, class-major, with a channel axis, and its class: uint8 ``[n_images, C, H, W]`` and
        ``[n_images]`` (padding left out when classes have different numbers of images)."""
        out = self.images.flatten(0, 1)
        out = out if self.channels == 3 else out.unsqueeze(1)
        labels = torch.arange(self.n_classes).repeat_interleave(self.n_per_class)
        if self.counts is not None:
            keep = (torch.arange(self.n_per_class)[None, :] < self.counts[:, None]).flatten()
            out, labels = out[keep], labels[keep]
        return out, labels

    def to(self, device) -> "FewShotDataset":
        """This set with its images on ``device`` (a copy there; ``self`` where they already are). The class
        counts stay on the CPU, where episodes' indices are drawn; the gather then runs on the device."""
        device = torch.device(device)
        if self.images.device == device:
            return self
        return replace(self, images=self.images.to(device))

    def for_device(self, device) -> "FewShotDataset":
        """This set placed for training or evaluating on ``device``, once, before the first episode: on a GPU the
        whole uint8 tensor moves there (mini-ImageNet's training split is 0.8 GB), so episodes are gathered and
        turned into floats on the GPU and nothing crosses the bus per step; where it does not fit, it stays in
        pinned (page-locked) memory, from which each episode is copied asynchronously. On the CPU: ``self``."""
        device = torch.device(device)
        if device.type == "cpu":
            return self
        try:
            return self.to(device)
        except torch.OutOfMemoryError:
            if device.type != "cuda":
                raise
            torch.cuda.empty_cache()
            print(f"{self.name}: {self.images.nbytes / 2**30:.1f} GB of images do not fit on {device}; they stay in "
                  "pinned CPU memory and each episode is copied over")
            return replace(self, images=self.images.pin_memory())

    def preprocess(self) -> Preprocess:
        """How a raw picture becomes an image like this set's: the preprocessing a model trained on it ships."""
        if self.channels == 3:
            return Preprocess(image_size=self.image_size, invert=False, channels=3)
        return Preprocess(image_size=self.image_size, invert="auto")

    def backbone_config(self) -> dict:
        """What a backbone needs to read this set's images: nothing for greyscale; for RGB, three input channels
        and the normalisation (``info["mean"]`` / ``info["std"]``, by default ImageNet's)."""
        if self.channels == 1:
            return {}
        return {"in_channels": 3, "mean": list(self.info.get("mean", IMAGENET_MEAN)),
                "std": list(self.info.get("std", IMAGENET_STD))}

    def seen_by(self, preprocess: Preprocess, per_class: int | None = None) -> "FewShotDataset":
        """This set's pictures as a model with ``preprocess`` sees them (a domain shift, chapter 10): photos for
        a character model become greyscale at its size, as they are (no ink to invert); characters for a photo
        model become dark ink on white paper, in three channels at its size. The first ``per_class`` images of
        each class (default: all)."""
        import warnings

        from PIL import Image

        n = min(per_class or self.n_per_class, int(self.class_counts().min()))
        out = []
        with warnings.catch_warnings():  # the "colour photo into a character model" warning: intended here
            warnings.simplefilter("ignore", UserWarning)
            for c in range(self.n_classes):
                for i in range(n):
                    image = self.images[c, i].numpy()
                    if self.channels == 3:
                        picture = Image.fromarray(image.transpose(1, 2, 0), "RGB")
                        out.append(preprocess.pil_to_uint8(picture, invert=False))
                    else:  # ink bright on black -> a drawing on paper
                        out.append(preprocess.pil_to_uint8(Image.fromarray(255 - image, "L"), invert=False))
        images = torch.stack(out).view(self.n_classes, n, *out[0].shape)
        kind = "RGB" if preprocess.channels == 3 else "grey"
        return FewShotDataset(f"{self.name} as {kind} {preprocess.image_size}x{preprocess.image_size}", images,
                              list(self.class_names), info=dict(self.info))

    def __len__(self) -> int:
        return int(self.class_counts().sum())

    def __repr__(self) -> str:
        colour = ", RGB" if self.channels == 3 else ""
        return (f"FewShotDataset({self.name!r}: {self.n_classes} classes x {self.n_per_class} images, "
                f"{self.image_size}x{self.image_size}{colour})")
