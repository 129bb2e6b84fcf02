"""The sine-wave toy: tasks by hand, fine-tuning curves against a plain loop, and the shipped results re-measured."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from fsl_course.methods.maml import inner_loop
from fsl_course.toys import sine

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODELS, SHIPPED_RESULTS = REPO / "results" / "sine_models.json", REPO / "results" / "sine_maml.json"


def test_tasks_by_hand_and_their_ranges():
    tasks = sine.SineTasks(torch.tensor([2.0, 0.5]), torch.tensor([math.pi / 2, 0.0]))
    x = torch.tensor([[[math.pi / 2], [math.pi]], [[math.pi / 2], [0.0]]])
    torch.testing.assert_close(tasks(x), torch.tensor([[[0.0], [2.0]], [[0.5], [0.0]]]))
    g = torch.Generator().manual_seed(0)
    many = sine.sample_tasks(10_000, g)
    assert 0.1 <= many.amplitude.min() and many.amplitude.max() <= 5.0 and many.amplitude.std() > 1.3
    assert 0.0 <= many.phase.min() and many.phase.max() <= math.pi
    xs = sine.sample_inputs(100, 10, g)
    assert xs.shape == (100, 10, 1) and -5 <= xs.min() and xs.max() <= 5 and xs.min() < -4.9 and xs.max() > 4.9
    again = sine.sample_tasks(10_000, torch.Generator().manual_seed(0))
    assert torch.equal(again.amplitude, many.amplitude)


def test_the_papers_network():
    net = sine.SineMLP()
    assert sum(p.numel() for p in net.parameters()) == 1 * 40 + 40 + 40 * 40 + 40 + 40 + 1
    assert net(torch.zeros(3, 7, 1)).shape == (3, 7, 1)


def test_finetune_curves_equal_a_plain_loop_and_leave_the_model_alone():
    torch.manual_seed(0)
    net = sine.SineMLP()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    data = sine.make_eval_tasks(4, k=5, n_eval=20, seed=3)
    curves = sine.finetune_curves(net, data, steps=3, lr=0.02)
    assert curves.shape == (4, 4)
    for i in range(4):
        params = {k: v.detach().requires_grad_() for k, v in net.named_parameters()}
        for step in range(4):
            with torch.no_grad():
                mse = F.mse_loss(torch.func.functional_call(net, params, (data.x_eval[i],)), data.y_eval[i])
            assert curves[i, step].item() == pytest.approx(mse.item(), rel=1e-5)
            params, _ = inner_loop(net, params, data.x_support[i], data.y_support[i], F.mse_loss, 1, 0.02,
                                   first_order=True)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert not torch.equal(curves[:, 3], curves[:, 0])  # the steps did something


def test_models_round_trip_exactly_through_json(tmp_path):
    torch.manual_seed(0)
    models = {"a": sine.SineMLP(), "b": sine.SineMLP()}
    sine.save_models(tmp_path / "m.json", models, {"a": 0.01, "b": 0.02}, "cmd")
    loaded, step_sizes = sine.load_models(tmp_path / "m.json")
    assert step_sizes == {"a": 0.01, "b": 0.02}
    for name in models:
        assert all(torch.equal(p, q) for p, q in zip(models[name].parameters(), loaded[name].parameters()))


def test_short_maml_training_is_seeded_and_first_order_differs():
    a, history = sine.train_maml(6, k=5, meta_batch=3, seed=1, record_every=3)
    b, _ = sine.train_maml(6, k=5, meta_batch=3, seed=1, record_every=3)
    c, _ = sine.train_maml(6, k=5, meta_batch=3, seed=1, first_order=True, record_every=3)
    assert [h["step"] for h in history] == [3, 6]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_shipped_sine_results_hold_and_are_reproduced():
    """results/sine_maml.json: after 10 points and 1 step, MAML's MSE on at least 100 new tasks is well below
    the pretrained baseline's; the shipped models give those numbers again."""
    record = json.loads(SHIPPED_RESULTS.read_text())
    r = record["results"]
    assert record["k"] == 10 and record["eval"]["tasks"] >= 100
    maml, pre = r["MAML"], r["pretrained"]
    assert maml["mse"][1] + maml["ci95"][1] < pre["mse"][1] - pre["ci95"][1]
    assert maml["mse"][1] < 0.5 * pre["mse"][1]
    models, step_sizes = sine.load_models(SHIPPED_MODELS)
    assert json.loads(SHIPPED_MODELS.read_text())["command"] == record["command"]  # made together
    data = sine.make_eval_tasks(record["eval"]["tasks"], record["k"], record["eval"]["eval_points"])
    for name, model in models.items():
        again = sine.summarise(sine.finetune_curves(model, data, 10, step_sizes[name]))
        assert again["mse"] == pytest.approx(r[name]["mse"], rel=1e-3, abs=1e-4), name
