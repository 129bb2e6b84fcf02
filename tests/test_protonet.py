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
