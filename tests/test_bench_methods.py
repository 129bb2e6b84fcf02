"""The methods benchmark builds what it claims: easyfsl's relation network scores like ours, and every side trains.

No timing is checked here; the benchmark itself is run by hand (``python benchmarks/bench_methods.py --quick``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from fsl_course.episodes import Episode, EpisodeSampler
from tests.conftest import tiny_dataset

pytest.importorskip("easyfsl")  # the benchmark's optional dependency (pip install -e ".[bench]")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_methods  # noqa: E402


def tiny_episode() -> Episode:
    """3-way 1-shot 2-query, 28x28 random images."""
    return EpisodeSampler(tiny_dataset(n_classes=4, n_per_class=3, size=28), 3, 1, 2, seed=0).sample()


def test_easyfsl_relation_network_scores_like_ours():
    torch.manual_seed(0)
    sides = bench_methods.build_relation()
    ep = tiny_episode()
    checks = bench_methods.check_same_start("relation", sides, ep)  # asserts, too
    assert checks["relation_scores_max_abs_diff"] < 1e-5
    s = bench_methods.eval_scores(sides, ep)
    assert s["ours"].shape == s["easyfsl"].shape == (6, 3)
    torch.testing.assert_close(s["easyfsl"], s["ours"], rtol=0, atol=1e-5)
    # and the relation module is truly a copy: training one side leaves the other untouched
    before = [p.clone() for p in sides["easyfsl"].model.parameters()]
    sides["ours"].model.train()
    sides["ours"].step(ep)
    assert all(torch.equal(a, b) for a, b in zip(before, sides["easyfsl"].model.parameters()))


@pytest.mark.parametrize("name", list(bench_methods.BUILDERS))
def test_every_side_takes_a_training_step(name):
    torch.manual_seed(0)
    sides = bench_methods.BUILDERS[name]()
    assert "ours" in sides and "easyfsl" in sides
    ep = tiny_episode()
    for side_name, side in sides.items():
        side.model.train()
        before = [p.clone() for p in side.model.parameters()]
        loss = side.step(ep)
        assert math.isfinite(loss), (name, side_name, loss)
        assert any(not torch.equal(a, b) for a, b in zip(before, side.model.parameters())), (name, side_name)
