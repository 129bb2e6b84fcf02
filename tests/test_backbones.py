"""The backbones for photos: Conv-4 at 84x84 RGB (1600-d, the papers') and ResNet-12, with their normalisation."""

from __future__ import annotations

import pytest
import torch

from fsl_course.backbones import Conv4, ResNet12, build_backbone
from fsl_course.data.dataset import IMAGENET_MEAN, IMAGENET_STD
from fsl_course.methods import build_method

PHOTO = {"in_channels": 3, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}


def test_conv4_on_84x84_photos_is_the_papers_1600_d_network():
    net = Conv4(**PHOTO).eval()
    assert net(torch.rand(2, 3, 84, 84)).shape == (2, 1600) and net.output_dim(84) == 1600
    assert sum(p.numel() for p in net.parameters()) == 113_088  # 111,936 + 2 x 64 x 9 more input weights


def test_normalisation_inside_the_model_equals_normalising_by_hand():
    torch.manual_seed(0)
    normed = Conv4(**PHOTO).eval()
    plain = Conv4(in_channels=3).eval()
    plain.load_state_dict(normed.state_dict())  # the statistics are settings, not weights: same state dict
    x = torch.rand(3, 3, 84, 84)
    by_hand = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    torch.testing.assert_close(normed(x), plain(by_hand))
    assert normed.config["mean"] == list(IMAGENET_MEAN) and "mean" not in plain.config


def test_a_method_rebuilt_from_its_config_normalises_the_same_way():
    m = build_method("protonet", backbone_config=PHOTO)
    again = build_method(m.name, **m.config)
    again.load_state_dict(m.state_dict())
    m.eval(), again.eval()
    x = torch.rand(4, 3, 84, 84)
    torch.testing.assert_close(m.backbone(x), again.backbone(x))


def test_resnet12_shapes_and_residual_blocks():
    net = build_backbone("resnet12", widths=[8, 16, 24, 32], **PHOTO).eval()
    assert isinstance(net, ResNet12)
    assert net(torch.rand(2, 3, 84, 84)).shape == (2, 32) == (2, net.output_dim())
    full = ResNet12()
    assert sum(p.numel() for p in full.parameters()) == pytest.approx(12.4e6, rel=0.02)  # the usual 12.4 M
    # a block adds its shortcut: with the body's last batch norm zeroed, the block is the shortcut alone
    block = net.blocks[0]
    torch.nn.init.zeros_(block.body[-1].weight)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(block(x), block.out(block.shortcut(x)))


def test_normalisation_needs_one_mean_and_std_per_channel():
    with pytest.raises(ValueError, match="both mean and std"):
        Conv4(in_channels=3, mean=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"one value per input channel \(3\)"):
        ResNet12(mean=[0.5], std=[0.2])
    with pytest.raises(ValueError, match="unknown backbone 'resnet18'; choose one of conv4, resnet12"):
        build_backbone("resnet18")
