"""Matching Networks and Relation Networks: known answers, invariances, the paper's losses, round trips."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fsl_course.cli.parsing import parse_settings
from fsl_course.data.images import Preprocess
from fsl_course.episodes import Episode
from fsl_course.methods import build_method
from fsl_course.methods.matching import MatchingNet, attention_to_class_probabilities, cosine_attention
from fsl_course.methods.relation import RelationNet, class_features
from fsl_course.training.checkpoints import load_method, save_checkpoint


class Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


def random_episode(way=5, shot=2, query=3, seed=0, size=28) -> Episode:
    g = torch.Generator().manual_seed(seed)
    return Episode(support=torch.rand(way * shot, 1, size, size, generator=g),
                   support_labels=torch.arange(way).repeat(shot),
                   query=torch.rand(way * query, 1, size, size, generator=g),
                   query_labels=torch.arange(way).repeat(query), classes=torch.arange(way),
                   items=torch.arange(shot + query).repeat(way, 1))


# --- Matching Networks ---------------------------------------------------------------------------------

def test_cosine_attention_by_hand():
    q = torch.tensor([[1.0, 0.0]])
    s = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]])  # cosines 1, 0, -1
    a = cosine_attention(q, s)
    e = torch.tensor([math.e, 1.0, 1 / math.e])
    torch.testing.assert_close(a, (e / e.sum())[None])
    a10 = cosine_attention(q, s, scale=10.0)
    e10 = torch.tensor([math.exp(10), 1.0, math.exp(-10)])
    torch.testing.assert_close(a10, (e10 / e10.sum())[None])


def test_attention_sums_to_class_probabilities_by_hand():
    a = torch.tensor([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    labels = torch.tensor([1, 0, 1])
    p = attention_to_class_probabilities(a, labels, 2)
    torch.testing.assert_close(p, torch.tensor([[0.2, 0.8], [0.1, 0.9]]))


def test_matching_scores_by_hand_with_identity_embedding():
    net = MatchingNet()
    net.backbone = Flatten()
    support = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).view(3, 1, 1, 2)
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1.0, 0.0]]).view(1, 1, 1, 2)
    # cosines 1, 0, 1/sqrt(2); p(class 0) = e / (e + 1 + e^(1/sqrt 2))
    e = torch.tensor([math.e, 1.0, math.exp(2 ** -0.5)])
    p = torch.stack([e[0], e[1] + e[2]]) / e.sum()
    scores = net.scores(support, labels, query)
    torch.testing.assert_close(scores, p.log()[None])
    torch.testing.assert_close(net.probabilities(scores), p[None])  # softmax of log p is p


@pytest.mark.parametrize("fce", [False, True])
def test_matching_attention_rows_sum_to_one(fce):
    torch.manual_seed(0)
    net = MatchingNet(fce=fce, fce_steps=3).eval()
    ep = random_episode()
    with torch.no_grad():
        a = net.attention(ep.support, ep.support_labels, ep.query)
        s = net.scores(ep.support, ep.support_labels, ep.query)
    assert a.shape == (15, 10) and (a >= 0).all()
    torch.testing.assert_close(a.sum(1), torch.ones(15))
    torch.testing.assert_close(s.exp().sum(1), torch.ones(15))  # scores are log-probabilities


def test_matching_loss_is_the_negative_log_probability_of_the_true_class():
    torch.manual_seed(0)
    net = MatchingNet().eval()
    ep = random_episode()
    with torch.no_grad():
        loss, scores = net.loss(ep)
    expected = -scores[torch.arange(15), ep.query_labels].mean()
    torch.testing.assert_close(loss, expected)


def test_full_context_embeddings_are_trained_and_depend_on_the_support_set():
    torch.manual_seed(0)
    net = MatchingNet(fce=True, fce_steps=2)
    assert net.config["fce"] is True
    n_lstm = sum(p.numel() for p in net.fce.parameters())
    # bidirectional LSTM(64 -> 64) and LSTMCell(128 -> 64)
    assert n_lstm == 2 * 4 * 64 * (64 + 64 + 2) + 4 * 64 * (128 + 64 + 2)
    ep = random_episode()
    loss, _ = net.loss(ep)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.fce.parameters())
    # the query embedding reads the support set: change one support image, every query's attention moves
    net.eval()
    with torch.no_grad():
        a1 = net.attention(ep.support, ep.support_labels, ep.query)
        other = ep.support.clone()
        other[0] = torch.rand(1, 28, 28)
        a2 = net.attention(other, ep.support_labels, ep.query)
    assert not torch.allclose(a1[:, 1:], a2[:, 1:])


# --- Relation Networks ---------------------------------------------------------------------------------

def test_class_features_sum_and_mean_by_hand():
    f = torch.arange(4.0).view(4, 1, 1, 1)  # values 0, 1, 2, 3
    labels = torch.tensor([0, 1, 0, 1])
    assert class_features(f, labels, 2, "sum").flatten().tolist() == [2.0, 4.0]
    assert class_features(f, labels, 2, "mean").flatten().tolist() == [1.0, 2.0]


def test_relation_architecture_is_the_papers():
    net = RelationNet()
    assert net.backbone(torch.zeros(2, 1, 28, 28)).shape == (2, 64, 7, 7)  # feature maps kept
    rel = net.relation
    assert rel.block1[0].in_channels == 128 and rel.block2[0].out_channels == 64
    assert (rel.fc1.in_features, rel.fc1.out_features, rel.fc2.out_features) == (64, 8, 1)


@pytest.mark.parametrize("training", [True, False])
def test_split_first_convolution_equals_concatenating_every_pair(training):
    """The fast relation module gives the paper's numbers and gradients (float64)."""
    torch.manual_seed(0)
    net = RelationNet().double().train(training)
    classes = torch.randn(5, 64, 7, 7, dtype=torch.float64)
    queries = torch.randn(6, 64, 7, 7, dtype=torch.float64)
    fast = net.relation(classes, queries)
    grads_fast = torch.autograd.grad(fast.square().sum(), list(net.relation.parameters()))
    naive = net.relation.forward_naive(classes, queries)
    grads_naive = torch.autograd.grad(naive.square().sum(), list(net.relation.parameters()))
    assert fast.shape == (6, 5)
    torch.testing.assert_close(fast, naive)
    for a, b in zip(grads_fast, grads_naive):
        torch.testing.assert_close(a, b)


def test_relation_scores_lie_in_unit_interval_and_loss_is_mse_to_one_hot():
    torch.manual_seed(0)
    net = RelationNet().eval()
    ep = random_episode()
    with torch.no_grad():
        loss, scores = net.loss(ep)
    assert scores.shape == (15, 5) and (scores >= 0).all() and (scores <= 1).all()
    one_hot = torch.zeros(15, 5)
    one_hot[torch.arange(15), ep.query_labels] = 1
    torch.testing.assert_close(loss, ((scores - one_hot) ** 2).mean())
    torch.testing.assert_close(net.probabilities(scores).sum(1), torch.ones(15))


def test_relation_aggregate_is_checked():
    with pytest.raises(ValueError, match="aggregate must be 'sum'"):
        RelationNet(aggregate="max")


# --- shared behaviour ----------------------------------------------------------------------------------

METHODS = [("matching", {}), ("matching", {"fce": True, "fce_steps": 2}), ("relation", {}),
           ("relation", {"aggregate": "mean"})]


@pytest.mark.parametrize("name,config", [m for m in METHODS if not m[1].get("fce")])
def test_permuting_support_classes_permutes_scores(name, config):
    torch.manual_seed(0)
    net = build_method(name, **config).eval()
    ep = random_episode()
    perm = torch.tensor([3, 0, 4, 1, 2])  # class k becomes class perm[k]
    order = torch.randperm(len(ep.support))  # and the support images come in another order
    with torch.no_grad():
        s1 = net.scores(ep.support, ep.support_labels, ep.query)
        s2 = net.scores(ep.support[order], perm[ep.support_labels[order]], ep.query)
    torch.testing.assert_close(s2[:, perm], s1)
    assert torch.equal(perm[s1.argmax(1)], s2.argmax(1))


@pytest.mark.parametrize("name,config", METHODS)
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, name, config):
    torch.manual_seed(0)
    net = build_method(name, **config)
    ep = random_episode()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(3):  # move the weights and the batch-norm statistics away from their initial values
        loss, _ = net.loss(ep)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    path = tmp_path / f"{name}.pt"
    save_checkpoint(path, net, Preprocess(28))
    again, _, _ = load_method(path)
    assert again.config == net.config
    with torch.no_grad():
        assert torch.equal(again.scores(ep.support, ep.support_labels, ep.query),
                           net.scores(ep.support, ep.support_labels, ep.query))


@pytest.mark.parametrize("name,config", METHODS)
def test_training_steps_lower_the_loss_on_an_episode(name, config):
    torch.manual_seed(0)
    net = build_method(name, **config)
    ep = random_episode(seed=1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss, _ = net.loss(ep)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_unknown_method_options_are_named():
    with pytest.raises(ValueError, match=r"matching has no option 'fc'; its options are .*fce"):
        build_method("matching", fc=True)


def test_cli_method_settings_parse_as_json_values():
    assert parse_settings(["fce=true", "scale=10", "aggregate=mean"]) == {"fce": True, "scale": 10,
                                                                          "aggregate": "mean"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_settings(["fce"])
