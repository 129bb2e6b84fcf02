"""MAML: meta-gradients against finite differences (float64), first order, ANIL, the inner loop, batch norm,
checkpoints and ``load_classifier``, and meta-batches in the training loop (resume included)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import fsl_course
from fsl_course.data.images import Preprocess
from fsl_course.episodes import EpisodeSet
from fsl_course.methods import build_method
from fsl_course.methods.maml import MAML, inner_loop, meta_loss, vmap_meta_loss
from fsl_course.training.checkpoints import load_method, save_checkpoint
from fsl_course.training.episodic import TrainConfig, _config_key, state_path, train
from tests.conftest import tiny_dataset

TRAIN, VAL = tiny_dataset(12, 6, 28, seed=1), tiny_dataset(6, 6, 28, seed=2)


def tiny_net(batch_norm: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Linear(3, 4)] + ([nn.BatchNorm1d(4, track_running_stats=False)] if batch_norm else [])
    return nn.Sequential(*layers, nn.Tanh(), nn.Linear(4, 2)).double()


def tiny_task(seed: int):
    g = torch.Generator().manual_seed(seed)
    xs, xq = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(8, 3, generator=g, dtype=torch.float64)
    return xs, torch.tensor([0, 1] * 3), xq, torch.tensor([0, 1] * 4)


def finite_differences(f, params: dict, h: float = 1e-6) -> dict:
    """Central differences of the scalar ``f(params)`` with respect to every entry of every tensor."""
    out = {}
    for name, p in params.items():
        g = torch.zeros_like(p)
        for i in range(p.numel()):
            plus, minus = p.detach().clone(), p.detach().clone()
            plus.view(-1)[i] += h
            minus.view(-1)[i] -= h
            g.view(-1)[i] = (f({**params, name: plus}) - f({**params, name: minus})) / (2 * h)
        out[name] = g
    return out


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "batch-norm"])
def test_second_order_meta_gradient_equals_finite_differences(batch_norm):
    net = tiny_net(batch_norm)
    params = {k: v.detach().requires_grad_() for k, v in net.named_parameters()}
    tasks = [tiny_task(1), tiny_task(2)]

    def objective(p):  # the query loss after 2 inner steps, averaged over the tasks
        p = {k: v.detach().requires_grad_() for k, v in p.items()}  # the inner loop differentiates
        return meta_loss(net, p, tasks, F.cross_entropy, steps=2, lr=0.5).item()

    loss = meta_loss(net, params, tasks, F.cross_entropy, steps=2, lr=0.5, first_order=False)
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
    numeric = finite_differences(objective, params)
    for name in params:
        torch.testing.assert_close(grads[name], numeric[name], rtol=1e-6, atol=1e-8)
    # the first-order gradient is a different thing: the test can tell them apart
    fo = torch.autograd.grad(meta_loss(net, params, tasks, F.cross_entropy, 2, 0.5, first_order=True),
                             list(params.values()))
    assert max((a - numeric[n]).abs().max().item() for a, n in zip(fo, params)) > 1e-4


def test_first_order_meta_gradient_is_the_query_gradient_at_the_adapted_parameters():
    net = tiny_net()
    params = {k: v.detach().requires_grad_() for k, v in net.named_parameters()}
    xs, ys, xq, yq = tiny_task(3)
    adapted, _ = inner_loop(net, params, xs, ys, steps=3, lr=0.5, first_order=True)
    fo = torch.autograd.grad(F.cross_entropy(functional_call(net, adapted, (xq,)), yq), list(params.values()))
    at_adapted = {k: v.detach().requires_grad_() for k, v in adapted.items()}  # fresh leaves at theta'
    expected = torch.autograd.grad(F.cross_entropy(functional_call(net, at_adapted, (xq,)), yq),
                                   list(at_adapted.values()))
    for a, b in zip(fo, expected):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # and the adapted parameters really moved
    assert all((adapted[k] - params[k]).abs().max() > 1e-3 for k in params)


def test_vmapped_meta_batch_equals_the_loop():
    net = tiny_net()
    params = {k: v.detach().requires_grad_() for k, v in net.named_parameters()}
    tasks = [tiny_task(s) for s in (4, 5, 6)]
    stacked = [torch.stack(t) for t in zip(*tasks)]
    for first_order in (False, True):
        a = meta_loss(net, params, tasks, F.cross_entropy, 2, 0.3, first_order)
        b = vmap_meta_loss(net, params, *stacked, F.cross_entropy, 2, 0.3, first_order)
        torch.testing.assert_close(a, b)
        for ga, gb in zip(torch.autograd.grad(a, list(params.values())), torch.autograd.grad(b, list(params.values()))):
            torch.testing.assert_close(ga, gb)


def small_maml(**options) -> MAML:
    torch.manual_seed(0)
    return MAML(way=3, backbone_config={"hidden": 4}, **options).double()


def double(ep):
    return ep.support.double(), ep.support_labels, ep.query.double(), ep.query_labels


@pytest.mark.parametrize("anil", [False, True], ids=["maml", "anil"])
@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_method_meta_gradient_on_conv4(anil, first_order):
    """The MAML method on a (narrow) Conv-4 with transductive batch norm, float64: second order against finite
    differences of the query loss after adaptation; first order against the query gradient at the adapted
    parameters; ANIL adapts the head only."""
    model = small_maml(inner_steps=2, inner_lr=0.3, anil=anil, first_order=first_order).train()
    support, labels, query, query_labels = double(EpisodeSet(TRAIN, 3, 1, 2, 1, seed=0)[0])
    params = dict(model.named_parameters())
    loss = F.cross_entropy(model.scores(support, labels, query), query_labels)
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
    adapted, _ = model._adapt({k: v.detach().requires_grad_() for k, v in params.items()}, support, labels, 2,
                              first_order=True)
    moved = {k for k in params if not torch.equal(adapted[k], params[k])}
    assert moved == ({"head.weight", "head.bias"} if anil else set(params))
    g = torch.Generator().manual_seed(0)
    picks = [(k, int(torch.randint(params[k].numel(), (), generator=g))) for k in params for _ in range(2)]
    if first_order:
        leaves = {k: v.detach().requires_grad_() for k, v in adapted.items()}
        expected = torch.autograd.grad(F.cross_entropy(functional_call(model, leaves, (query,)), query_labels),
                                       list(leaves.values()))
        for k, e in zip(leaves, expected):
            torch.testing.assert_close(grads[k], e, rtol=1e-9, atol=1e-12)
        return
    h = 1e-6
    for name, i in picks:
        def objective(delta):
            p = {k: v.detach().clone(memory_format=torch.contiguous_format) for k, v in params.items()}
            p[name].view(-1)[i] += delta
            with torch.enable_grad():
                ad, _ = model._adapt({k: v.requires_grad_() for k, v in p.items()}, support, labels, 2, False)
                return F.cross_entropy(functional_call(model, ad, (query,)), query_labels).item()
        numeric = (objective(h) - objective(-h)) / (2 * h)
        assert grads[name].reshape(-1)[i].item() == pytest.approx(numeric, rel=1e-5, abs=1e-9), (name, i)


def test_inner_loop_lowers_the_support_loss():
    model = MAML(way=5, inner_lr=0.1).eval()  # (0.4, the paper's, suits a meta-learned start, not a random one)
    ep = EpisodeSet(TRAIN, 5, 2, 3, 1, seed=0)[0]
    adapted = model.adapt(ep.support, ep.support_labels, steps=5)
    losses = adapted.support_losses
    assert len(losses) == 5 and all(b < a for a, b in zip(losses, losses[1:]))
    with torch.no_grad():
        after = F.cross_entropy(functional_call(model, adapted.params, (ep.support,)), ep.support_labels)
    assert after.item() < losses[0]


def test_adapting_leaves_the_initialisation_and_other_tasks_untouched():
    model = MAML(way=5).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a, b = EpisodeSet(TRAIN, 5, 1, 3, 2, seed=3)
    b_alone = model.adapt(b.support, b.support_labels)(b.query)
    with torch.no_grad():
        a_scores = model.scores(a.support, a.support_labels, a.query)  # evaluate()'s path: adapt inside
    b_after_a = model.adapt(b.support, b.support_labels)(b.query)
    assert torch.equal(b_alone, b_after_a)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert not torch.equal(a_scores, model(a.query))  # adaptation changed the prediction, not the model


def test_transductive_batch_norm_is_what_it_says():
    """bn='batch' (MAML's usual practice): a query's scores depend on the other queries; bn='running' in eval
    mode: they do not."""
    ep = EpisodeSet(TRAIN, 5, 1, 4, 1, seed=0)[0]
    others = torch.rand_like(ep.query[1:])
    for bn, depends in (("batch", True), ("running", False)):
        torch.manual_seed(0)
        model = MAML(way=5, bn=bn).eval()
        adapted = model.adapt(ep.support, ep.support_labels)
        first = adapted(ep.query)[0]
        with_others = adapted(torch.cat([ep.query[:1], others]))[0]
        assert torch.allclose(first, with_others, atol=1e-5) != depends, bn
    with pytest.raises(ValueError, match="cannot classify a single query"):
        MAML(way=5).eval().adapt(ep.support, ep.support_labels)(ep.query[:1])
    assert not any(isinstance(m, nn.BatchNorm2d) and m.track_running_stats for m in MAML(bn="batch").modules())


def test_way_and_options_are_checked():
    model = MAML(way=5).eval()
    ep = EpisodeSet(TRAIN, 3, 1, 2, 1, seed=0)[0]
    with pytest.raises(ValueError, match="5-way head, but the support set has 3 classes"):
        model.scores(ep.support, ep.support_labels, ep.query)
    with pytest.raises(ValueError, match="unknown bn"):
        MAML(bn="instance")
    with pytest.raises(ValueError, match="test_inner_steps must be a whole number"):
        model.configure(test_inner_steps=-1)
    assert model.configure(test_inner_steps=7).config["test_inner_steps"] == 7


def test_checkpoint_round_trip_and_load_classifier(tmp_path):
    model = build_method("maml", way=3, test_inner_steps=4, inner_lr=0.2)
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([0.3, -0.1, 0.2]))
    save_checkpoint(tmp_path / "m.pt", model, Preprocess(28, invert="auto"))
    loaded, _, blob = load_method(tmp_path / "m.pt")
    assert blob["config"]["test_inner_steps"] == 4 and loaded.inner_lr == 0.2
    ep = EpisodeSet(VAL, 3, 2, 3, 1, seed=0)[0]
    with torch.no_grad():
        expected = model.eval().scores(ep.support, ep.support_labels, ep.query)
        assert torch.equal(loaded.scores(ep.support, ep.support_labels, ep.query), expected)
    clf = fsl_course.load_classifier(tmp_path / "m.pt")
    before = {k: v.clone() for k, v in clf.method.state_dict().items()}
    names = ["a", "b", "c"]
    clf.fit(ep.support, [names[i] for i in ep.support_labels])  # fit runs the inner loop once
    assert len(clf._adapted.support_losses) == 4
    torch.testing.assert_close(clf.decision_function(ep.query), expected)
    assert clf.predict(ep.query) == [names[i] for i in expected.argmax(1)]
    assert all(torch.equal(v, before[k]) for k, v in clf.method.state_dict().items())


def _maml_config(episodes, meta_batch=2):
    return TrainConfig(way=3, shot=1, query=2, episodes=episodes, lr_step=4, val_way=3, val_query=2,
                       val_episodes=3, val_every=4, seed=5, meta_batch=meta_batch)


def _train_maml(out, episodes, meta_batch=2):
    torch.manual_seed(0)
    return train(build_method("maml", way=3, backbone_config={"hidden": 8}), TRAIN, VAL,
                 _maml_config(episodes, meta_batch), out, progress=False)


def test_meta_batch_averages_the_gradients_of_its_episodes(tmp_path):
    """train() with meta_batch=2 takes one Adam step on the mean gradient of two episodes."""
    _train_maml(tmp_path / "m.pt", 4)
    trained = torch.load(state_path(tmp_path / "m.pt"), weights_only=True)["model"]
    # the same by hand: the same initial weights and episode stream, two meta-batches of two episodes
    from fsl_course.episodes import EpisodeSampler

    torch.manual_seed(0)
    model = build_method("maml", way=3, backbone_config={"hidden": 8})
    torch.manual_seed(5)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sampler = EpisodeSampler(TRAIN, 3, 1, 2, seed=5)
    for _ in range(2):
        opt.zero_grad()
        for _ in range(2):  # the mean of the two losses, one backward pass each
            (model.loss(sampler.sample())[0] / 2).backward()
        opt.step()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(trained[k], v, rtol=0, atol=1e-6)
    record = json.loads((tmp_path / "m.json").read_text())
    assert record["train"]["meta_batch"] == 2 and record["episodes_done"] == 4


def test_meta_batch_resume_gives_the_same_model(tmp_path):
    _train_maml(tmp_path / "a.pt", 8)
    _train_maml(tmp_path / "b.pt", 4)  # interrupted after 4 episodes (2 meta-batches)...
    _train_maml(tmp_path / "b.pt", 8)  # ...and resumed
    a = torch.load(state_path(tmp_path / "a.pt"), weights_only=True)
    b = torch.load(state_path(tmp_path / "b.pt"), weights_only=True)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=1e-6)
    assert [h["val_accuracy"] for h in a["history"]] == [h["val_accuracy"] for h in b["history"]]
    assert [h["lr"] for h in a["history"]] == pytest.approx([5e-4, 2.5e-4])  # halved every 4 episodes


def test_meta_batch_must_divide_the_counts_and_old_states_still_resume(tmp_path):
    with pytest.raises(ValueError, match="meta_batch=3 must be >= 1 and divide"):
        _train_maml(tmp_path / "c.pt", 4, meta_batch=3)
    assert "meta_batch" not in _config_key(TrainConfig())  # states written before meta_batch existed
    assert _config_key(TrainConfig(meta_batch=4))["meta_batch"] == 4


def test_benchmark_sides_compute_what_they_claim():
    """benchmarks/bench_maml.py: higher's second-order meta-gradient equals ours (and not the first-order one),
    and its peak-memory measure gives a known answer."""
    pytest.importorskip("higher")  # the benchmark's optional dependency (pip install -e ".[bench]")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import bench_maml

    torch.manual_seed(0)
    models = bench_maml.build_sides(steps=2, way=3, backbone_config={"hidden": 8})
    tasks = list(EpisodeSet(TRAIN, 3, 1, 2, 2, seed=0))
    assert bench_maml.check_higher_agrees(models, tasks) < 1e-5
    so = bench_maml.meta_gradients("second order", models["second order"], tasks)
    fo = bench_maml.meta_gradients("first order", models["first order"], tasks)
    assert max((so[k] - fo[k]).abs().max().item() for k in so) > 1e-4

    def known():  # 4 MB, then 8 MB live, then 4 MB freed before 4 MB more: the peak is 8 MB
        a = torch.ones(1_000_000)
        b = a * 2
        del a
        return (b @ b).item() + torch.ones(1_000_000).sum().item()

    assert bench_maml.peak_bytes(known) == pytest.approx(8_000_000, abs=1000)


def test_cli_passes_meta_batch_and_method_options(monkeypatch, tmp_path):
    from fsl_course import cli

    seen = {}

    def fake_train(method, train_data, val_data, config, out, preprocess, device=None, resume=True):
        seen.update(method=method, config=config)
        return {"best": {"val_accuracy": 0.0, "step": 0}}

    monkeypatch.setattr("fsl_course.training.episodic.train", fake_train)
    monkeypatch.setattr("fsl_course.data.omniglot.load_omniglot", lambda *a, **k: TRAIN)
    cli.main(["train", "maml", "--set", "inner_steps=2", "--set", "first_order=true", "--out", str(tmp_path / "m.pt"),
              "--way", "5", "--shot", "1", "--meta-batch", "4"])
    assert seen["config"].meta_batch == 4
    assert isinstance(seen["method"], MAML) and seen["method"].inner_steps == 2 and seen["method"].first_order


def test_evaluate_scores_a_maml_model_at_its_own_number_of_ways_only(monkeypatch, tmp_path, capsys):
    from fsl_course.evaluation.evaluate import evaluate_checkpoint

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "m.pt", MAML(way=5, backbone_config={"hidden": 8}), Preprocess(28))
    monkeypatch.setattr("fsl_course.data.omniglot.load_omniglot", lambda *a, **k: tiny_dataset(8, 20, 28))
    results = evaluate_checkpoint(tmp_path / "m.pt", n_episodes=2, progress=False)
    assert list(results) == ["5-way 1-shot", "5-way 5-shot"]
    assert "skipping 20-way 1-shot: a 5-way MAML model (its head has 5 outputs)" in capsys.readouterr().out
    assert MAML(way=5).unsupported(5, 10) is None and MAML(way=20).unsupported(5, 1) is not None
    with pytest.raises(ValueError, match="cannot score 3-way 1-shot episodes: it is a 5-way MAML model"):  # asked
        evaluate_checkpoint(tmp_path / "m.pt", settings=[(3, 1)], n_episodes=1, progress=False)
