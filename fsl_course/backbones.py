"""The embedding networks. Conv-4 is the four-block network of the Matching Nets, ProtoNet and MAML papers."""

from __future__ import annotations

import torch
from torch import nn


def conv_block(in_channels: int, out_channels: int, pool: bool = True) -> nn.Sequential:
    """3x3 convolution (padding 1), batch norm, ReLU, then 2x2 max-pooling."""
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Conv4(nn.Module):
    """Four conv blocks of ``hidden`` channels: [B, C, 28, 28] -> [B, 64] (feature maps 14, 7, 3, 1); at 84x84
    (mini-ImageNet, RGB) -> [B, 1600] (feature maps 42, 21, 10, 5), as in the papers.

    ``flatten=False`` keeps the feature maps ``[B, hidden, h, w]`` (Relation Networks need them);
    ``pool_last=False`` skips the last two poolings, as the Relation Network paper's embedding does;
    ``mean`` / ``std`` (one per input channel) normalise the input inside the model, so a checkpoint carries the
    normalisation it was trained with.
    """

    def __init__(self, in_channels: int = 1, hidden: int = 64, flatten: bool = True, pool_last: bool = True,
                 mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self.config = {"in_channels": in_channels, "hidden": hidden, "flatten": flatten, "pool_last": pool_last}
        _set_normalisation(self, in_channels, mean, std)  # photos: part of the model, so every caller gets it
        self.blocks = nn.Sequential(
            conv_block(in_channels, hidden),
            conv_block(hidden, hidden),
            conv_block(hidden, hidden, pool=pool_last),
            conv_block(hidden, hidden, pool=pool_last),
        )
        self.flatten = flatten
        # channels-last memory makes the convolutions about 1.7x faster on CPUs (same numbers, other layout)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is not None:
            x = (x - self.mean) / self.std
        z = self.blocks(x.contiguous(memory_format=torch.channels_last))  # [B, hidden, h, w]
        return z.flatten(1) if self.flatten else z

    def output_dim(self, image_size: int = 28) -> int:
        with torch.no_grad():
            was = self.training
            self.eval()
            d = self(torch.zeros(1, self.config["in_channels"], image_size, image_size)).flatten(1).shape[1]
            self.train(was)
        return d


class ResBlock(nn.Module):
    """ResNet-12's block: three 3x3 convolutions (batch norm, leaky ReLU 0.1), a 1x1 shortcut, 2x2 max-pooling."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        layers = []
        for i in range(3):
            layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False),
                       nn.BatchNorm2d(out_channels)]
            if i < 2:
                layers.append(nn.LeakyReLU(0.1))
        self.body = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                      nn.BatchNorm2d(out_channels))
        self.out = nn.Sequential(nn.LeakyReLU(0.1), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x) + self.shortcut(x))


class ResNet12(nn.Module):
    """ResNet-12 (Oreshkin et al. 2018; Lee et al. 2019), the backbone of most few-shot results since 2019: four
    residual blocks of ``widths`` channels (64, 160, 320, 640), each halving the feature map, then global average
    pooling: [B, 3, 84, 84] -> [B, 640]. Without DropBlock (a regulariser some papers add). Meant for a GPU: a step
    costs about 30 times a Conv-4 step. ``mean`` / ``std`` normalise the input as in :class:`Conv4`."""

    def __init__(self, in_channels: int = 3, widths: tuple[int, ...] | list[int] = (64, 160, 320, 640),
                 mean: list[float] | None = None, std: list[float] | None = None):
        super().__init__()
        self.config = {"in_channels": in_channels, "widths": list(widths)}
        chans = [in_channels, *widths]
        self.blocks = nn.Sequential(*[ResBlock(a, b) for a, b in zip(chans, chans[1:])])
        _set_normalisation(self, in_channels, mean, std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return self.blocks(x).mean(dim=(2, 3))

    def output_dim(self, image_size: int = 84) -> int:
        return self.config["widths"][-1]


def _set_normalisation(module: nn.Module, in_channels: int, mean, std) -> None:
    """Give ``module`` the input normalisation ``(x - mean) / std`` (one value per channel), or none."""
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std (per input channel) to normalise the input, or neither")
    if mean is None:
        module.mean = module.std = None
        return
    if len(mean) != in_channels or len(std) != in_channels:
        raise ValueError(f"mean and std need one value per input channel ({in_channels})")
    module.config.update(mean=list(mean), std=list(std))
    module.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
    module.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)


BACKBONES = {"conv4": Conv4, "resnet12": ResNet12}


#: Options that change only how a backbone's output is shaped, not its weights or what it computes with them:
#: backbones that differ in these alone are one network (a Relation Network can start from a pretrained Conv-4).
OUTPUT_OPTIONS = ("flatten", "pool_last")


def network_identity(name: str, config: dict | None) -> tuple[str, dict]:
    """What makes two backbones the same network, whose weights one can take from the other: the name and
    every option but :data:`OUTPUT_OPTIONS`."""
    return name, {k: v for k, v in (config or {}).items() if k not in OUTPUT_OPTIONS}


def build_backbone(name: str = "conv4", **config) -> nn.Module:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name](**config)
