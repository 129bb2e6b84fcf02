"""Prototypical Networks: prototypes and logits by hand, the linear-classifier view, permutation symmetry."""

from __future__ import annotations

import torch
from torch import nn

from fsl_course.methods.protonet import ProtoNet, linear_classifier, prototypes, squared_distances


class Identity(nn.Module):
    def forward(self, x):
        return x.flatten(1)


def identity_protonet() -> ProtoNet:
    net = ProtoNet()
    net.backbone = Identity()
    return net


def test_prototypes_and_logits_by_hand():
    # 2-D embeddings: class 0 at (0,0),(2,0) -> prototype (1,0); class 1 at (0,4) -> (0,4)
    z = torch.tensor([[0.0, 0.0], [0.0, 4.0], [2.0, 0.0]])
    labels = torch.tensor([0, 1, 0])
    protos = prototypes(z, labels, 2)
    assert torch.equal(protos, torch.tensor([[1.0, 0.0], [0.0, 4.0]]))
    q = torch.tensor([[1.0, 1.0], [0.0, 3.0]])
    # |(1,1)-(1,0)|^2 = 1, |(1,1)-(0,4)|^2 = 1+9 = 10; |(0,3)-(1,0)|^2 = 1+9 = 10, |(0,3)-(0,4)|^2 = 1
    assert torch.equal(squared_distances(q, protos), torch.tensor([[1.0, 10.0], [10.0, 1.0]]))
    net = identity_protonet()
    scores = net.scores(z.view(3, 1, 1, 2), labels, q.view(2, 1, 1, 2))
    assert torch.equal(scores, torch.tensor([[-1.0, -10.0], [-10.0, -1.0]]))


def test_squared_euclidean_protonet_is_a_linear_classifier():
    """Snell et al. 2017, section 2.3: -|z-c|^2 = 2c.z - |c|^2 - |z|^2, and |z|^2 does not depend on the class."""
    g = torch.Generator().manual_seed(0)
    z_support, labels = torch.randn(15, 8, generator=g, dtype=torch.float64), torch.arange(5).repeat(3)
    z_query = torch.randn(7, 8, generator=g, dtype=torch.float64)
    protos = prototypes(z_support, labels, 5)
    w, b = linear_classifier(protos)
    linear = z_query @ w.T + b
    scores = -squared_distances(z_query, protos)
    torch.testing.assert_close(linear - z_query.pow(2).sum(1, keepdim=True), scores)
    assert torch.equal(linear.softmax(1).argmax(1), scores.softmax(1).argmax(1))
    torch.testing.assert_close(linear.softmax(1), scores.softmax(1))


def test_permuting_support_classes_permutes_scores():
    torch.manual_seed(0)
    net = ProtoNet().eval()
    support, labels, query = torch.rand(10, 1, 28, 28), torch.arange(5).repeat(2), torch.rand(6, 1, 28, 28)
    perm = torch.tensor([3, 0, 4, 1, 2])  # class k becomes class perm[k]
    with torch.no_grad():
        s1 = net.scores(support, labels, query)
        s2 = net.scores(support, perm[labels], query)
    torch.testing.assert_close(s2[:, perm], s1)
    assert torch.equal(perm[s1.argmax(1)], s2.argmax(1))


def test_conv4_shapes():
    net = ProtoNet()
    assert net.backbone(torch.zeros(2, 1, 28, 28)).shape == (2, 64)
    assert sum(p.numel() for p in net.parameters()) == 111_936  # the papers' Conv-4: 4 x (conv + BN)


def test_the_normalised_protonet_by_hand_and_as_the_baselines_centroid_head():
    import pytest

    from fsl_course.methods.baseline import Baseline

    # unit embeddings: class 0 at (1,0),(0,1) -> prototype (.5,.5); class 1 at (-1,0); query (3,0) -> (1,0)
    z = torch.tensor([[1.0, 0.0], [-2.0, 0.0], [0.0, 5.0]])  # (0,5) normalises to (0,1)
    labels = torch.tensor([0, 1, 0])
    net = ProtoNet(normalize=True, scale=2.0)
    net.backbone = Identity()
    scores = net.scores(z.view(3, 1, 1, 2), labels, torch.tensor([[3.0, 0.0]]).view(1, 1, 1, 2))
    # |(1,0)-(.5,.5)|^2 = .5, |(1,0)-(-1,0)|^2 = 4; times -scale
    torch.testing.assert_close(scores, torch.tensor([[-1.0, -8.0]]))
    # the scale is learned
    scores.sum().backward()
    assert net.log_scale.grad is not None and net.log_scale.grad.abs() > 0
    # with scale 10 and the same backbone it scores exactly like the baseline's nearest-centroid head
    torch.manual_seed(0)
    proto, base = ProtoNet(normalize=True).eval(), Baseline(head="centroid", scale=10.0).eval()
    base.backbone.load_state_dict(proto.backbone.state_dict())
    support, query = torch.rand(6, 1, 28, 28), torch.rand(4, 1, 28, 28)
    support_labels = torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        torch.testing.assert_close(proto.scores(support, support_labels, query),
                                   base.scores(support, support_labels, query))
    assert ProtoNet().config == {"backbone": "conv4", "backbone_config": {}}  # old checkpoints load unchanged
    with pytest.raises(ValueError, match="scale must be positive"):
        ProtoNet(normalize=True, scale=0.0)
