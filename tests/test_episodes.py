"""Episodes: every invariant, under property-based testing, and fixed sets that reproduce across processes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fsl_course.episodes import EpisodeSampler, EpisodeSet, make_episode
from tests.conftest import tiny_dataset

DATA = tiny_dataset(n_classes=9, n_per_class=7, size=6)


def _trace(images: torch.Tensor) -> list[tuple[int, int]]:
    """(class, item) of each image, read back from the pixels tiny_dataset wrote."""
    px = (images[:, 0, 0, :2] * 255).round().long()
    return [tuple(p) for p in px.tolist()]


def check_invariants(ep, way, shot, query):
    assert ep.support.shape == (way * shot, 1, 6, 6) and ep.query.shape == (way * query, 1, 6, 6)
    assert ep.support.dtype == torch.float32 and 0 <= ep.support.min() and ep.support.max() <= 1
    assert len(set(ep.classes.tolist())) == way  # distinct classes
    assert sorted(set(ep.support_labels.tolist())) == list(range(way))
    assert torch.equal(torch.bincount(ep.support_labels), torch.full((way,), shot))
    assert torch.equal(torch.bincount(ep.query_labels), torch.full((way,), query))
    support, queries = _trace(ep.support), _trace(ep.query)
    assert not set(support) & set(queries)  # support and query disjoint
    assert len(set(support)) == way * shot and len(set(queries)) == way * query
    for (c, _), label in zip(support + queries, ep.support_labels.tolist() + ep.query_labels.tolist()):
        assert c == ep.classes[label]  # label i means class classes[i]


@settings(max_examples=60, deadline=None)
@given(way=st.integers(1, 9), shot=st.integers(1, 6), query=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_sampled_episodes_keep_every_invariant(way, shot, query, seed):
    if shot + query > 7:
        with pytest.raises(ValueError, match="at most 7"):
            EpisodeSampler(DATA, way, shot, query, seed=seed)
        return
    sampler = EpisodeSampler(DATA, way, shot, query, seed=seed)
    for _ in range(3):
        check_invariants(sampler.sample(), way, shot, query)
    check_invariants(EpisodeSet(DATA, way, shot, query, 2, seed)[1], way, shot, query)


def test_labels_are_assigned_in_random_order():
    """Label 0 must not always be the smallest class index (labels are remapped randomly per episode)."""
    sampler = EpisodeSampler(DATA, 5, 1, 1, seed=3)
    orders = {tuple(sampler.sample().classes.tolist()) for _ in range(50)}
    assert any(list(o) != sorted(o) for o in orders)
    assert len(orders) > 40


@pytest.mark.parametrize("args, message", [
    ((10, 1, 1), "way=10 asks for more classes than 'tiny' has: it has 9 classes, so way must be at most 9"),
    ((3, 5, 3), "shot + query = 5 + 3 = 8 images per class, but each class of 'tiny' has only 7"),
    ((0, 1, 1), "way must be a positive whole number, got 0"),
    ((3, -1, 1), "shot must be a positive whole number, got -1"),
    ((3, 1, 0), "query must be a positive whole number, got 0"),
])
def test_impossible_requests_state_the_limit(args, message):
    with pytest.raises(ValueError) as err:
        EpisodeSampler(DATA, *args)
    assert message in str(err.value)
    with pytest.raises(ValueError):
        EpisodeSet(DATA, *args, n_episodes=3)


def test_episode_count_must_be_positive():
    with pytest.raises(ValueError, match="n_episodes must be a positive whole number"):
        EpisodeSet(DATA, 3, 1, 1, n_episodes=0)


def test_fixed_sets_are_identical_for_the_same_seed_and_differ_otherwise():
    a, b, c = EpisodeSet(DATA, 4, 2, 3, 20, seed=7), EpisodeSet(DATA, 4, 2, 3, 20, seed=7), EpisodeSet(DATA, 4, 2, 3, 20, seed=8)
    assert torch.equal(a.classes, b.classes) and torch.equal(a.items, b.items)
    assert torch.equal(a[5].query, b[5].query)
    assert not torch.equal(a.classes, c.classes)


def test_fixed_sets_are_identical_in_another_process():
    code = ("from tests.conftest import tiny_dataset; from fsl_course.episodes import EpisodeSet; "
            "s = EpisodeSet(tiny_dataset(n_classes=9, n_per_class=7, size=6), 4, 2, 3, 20, seed=7); "
            "print(s.classes.tolist(), s.items.tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    here = EpisodeSet(DATA, 4, 2, 3, 20, seed=7)
    assert out.strip() == f"{here.classes.tolist()} {here.items.tolist()}"


def test_sampler_resumes_the_same_stream():
    s = EpisodeSampler(DATA, 3, 1, 2, seed=11)
    s.sample()
    state = s.state()
    nxt = s.sample()
    s2 = EpisodeSampler(DATA, 3, 1, 2, seed=999)
    s2.set_state(state)
    assert torch.equal(s2.sample().query, nxt.query)


def test_make_episode_groups_by_label():
    ep = make_episode(DATA, torch.tensor([4, 1]), torch.tensor([[0, 1, 2], [6, 5, 4]]), shot=1)
    assert _trace(ep.support) == [(4, 0), (1, 6)]
    assert _trace(ep.query) == [(4, 1), (4, 2), (1, 5), (1, 4)]
    assert ep.query_labels.tolist() == [0, 0, 1, 1] and (ep.way, ep.shot, ep.n_query) == (2, 1, 2)
