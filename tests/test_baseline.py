"""Transfer baselines: the heads on fixed tensors, fine-tuning on a copy, pretraining, checkpoints, errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from fsl_course.classifier import FewShotClassifier
from fsl_course.data.images import Preprocess
from fsl_course.episodes import EpisodeSet
from fsl_course.methods import build_method
from fsl_course.methods.baseline import HEADS, Baseline, centroid_scores, finetune, fit_linear_head
from fsl_course.training.checkpoints import load_method, save_checkpoint
from fsl_course.training.pretrain import PretrainConfig, evaluate_heads, first_episodes, pretrain
from tests.conftest import tiny_dataset


class Flat(nn.Module):
    def forward(self, x):
        return x.flatten(1)


def flat_baseline(head: str, **options) -> Baseline:
    method = Baseline(head=head, **options)
    method.backbone = Flat()
    return method


def small_baseline(head: str = "finetune", **options) -> Baseline:
    torch.manual_seed(0)
    return Baseline(head=head, backbone_config={"hidden": 8}, **options)


def test_nearest_centroid_by_hand():
    # normalised features: class 0 at (1,0) and (0,1) -> centroid (0.5, 0.5); class 1 at (-2,0) -> (-1, 0)
    support = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-2.0, 0.0]]).view(3, 1, 1, 2)
    labels = torch.tensor([0, 0, 1])
    query = torch.tensor([[3.0, 4.0], [0.0, -5.0]]).view(2, 1, 1, 2)  # normalised: (0.6, 0.8), (0, -1)
    # (0.6,0.8): |.-(.5,.5)|^2 = .01+.09 = .1, |.-(-1,0)|^2 = 2.56+.64 = 3.2
    # (0,-1):    |.-(.5,.5)|^2 = .25+2.25 = 2.5, |.-(-1,0)|^2 = 1+1 = 2
    expected = -torch.tensor([[0.1, 3.2], [2.5, 2.0]])
    scores = flat_baseline("centroid", scale=1.0).scores(support, labels, query)
    torch.testing.assert_close(scores, expected)
    assert scores.argmax(1).tolist() == [0, 1]
    # the scale sharpens the softmax (default 10) and leaves the predictions alone
    torch.testing.assert_close(flat_baseline("centroid").scores(support, labels, query), 10 * expected)
    # the same on raw features: (3,4) -> 2.5^2+3.5^2 = 18.5 and 5^2+4^2 = 41; (0,-5) -> .25+30.25, 4+25
    torch.testing.assert_close(centroid_scores(support.flatten(1), labels, query.flatten(1), 2),
                               -torch.tensor([[18.5, 41.0], [30.5, 29.0]]))


def test_linear_probe_fits_linearly_separable_features_perfectly():
    g = torch.Generator().manual_seed(0)
    way, n, dim = 4, 10, 16
    labels = torch.arange(way).repeat_interleave(n)
    # separable but not trivially: each class sits on its own side of a random direction, plus noise
    centres = 3 * torch.randn(way, dim, generator=g)
    z = centres[labels] + torch.randn(way * n, dim, generator=g)
    assert (torch.cdist(z, centres).argmin(1) == labels).all()  # the data are separable
    logits = fit_linear_head(z, labels, way, steps=200, weight_decay=1e-4)
    assert (logits(z).argmax(1) == labels).all()
    # and the fit really learnt: the untrained head (zero weights) predicts one class for all
    untrained = fit_linear_head(z, labels, way, steps=0)
    assert (untrained(z).argmax(1) == labels).float().mean() == 1 / way


def test_logistic_and_cosine_heads_label_queries_near_their_support():
    g = torch.Generator().manual_seed(1)
    way, shot = 5, 3
    centres = torch.randn(way, 12, generator=g)
    labels = torch.arange(way).repeat_interleave(shot)
    support = (centres[labels] + 0.05 * torch.randn(way * shot, 12, generator=g)).view(-1, 1, 3, 4)
    query_labels = torch.arange(way).repeat(4)
    query = (centres[query_labels] + 0.05 * torch.randn(len(query_labels), 12, generator=g)).view(-1, 1, 3, 4)
    for head in ("logistic", "cosine"):
        with torch.no_grad():  # as under the evaluator: fitting must still work
            scores = flat_baseline(head).scores(support, labels, query)
        assert scores.shape == (len(query_labels), way)
        assert torch.equal(scores.argmax(1), query_labels), head


def test_finetuning_never_alters_the_stored_weights():
    method = small_baseline("finetune", steps=5, lr=1e-2)
    support, labels = torch.rand(10, 1, 28, 28), torch.arange(5).repeat(2)
    query = torch.rand(7, 1, 28, 28)
    before = {k: v.clone() for k, v in method.state_dict().items()}
    for mode in ("eval", "train"):  # train mode: batch norm would update its running statistics
        getattr(method, mode)()
        with torch.no_grad():
            scores = method.scores(support, labels, query)
        assert scores.shape == (7, 5)
        for k, v in method.state_dict().items():
            assert torch.equal(v, before[k]), f"{k} changed in {mode} mode"
    # ...and yet fine-tuning did change the copy: the support loss went down
    method.eval()
    _, history = finetune(method.backbone, support, labels, 5, steps=5, lr=1e-2)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert [h["step"] for h in history] == list(range(6))


def test_finetune_starts_at_the_centroid_classifier_and_records_curves():
    method = small_baseline().eval()
    support, labels = torch.rand(10, 1, 28, 28), torch.arange(5).repeat(2)
    query, query_labels = torch.rand(5, 1, 28, 28), torch.arange(5)
    predict, history = finetune(method.backbone, support, labels, 5, steps=0, scale=10.0, query=query,
                                query_labels=query_labels)
    with torch.no_grad():
        z_s = nn.functional.normalize(method.backbone(support), dim=1)
        z_q = nn.functional.normalize(method.backbone(query), dim=1)
    protos = torch.stack([z_s[labels == k].mean(0) for k in range(5)])
    torch.testing.assert_close(predict(query), 10.0 * z_q @ protos.T)
    assert len(history) == 1 and set(history[0]) == {"step", "train_loss", "train_accuracy", "test_accuracy"}
    # head only: the backbone's parameters are not even given gradients
    _, head_only = finetune(method.backbone, support, labels, 5, steps=3, lr=1e-2, train_backbone=False)
    assert head_only[-1]["train_loss"] < head_only[0]["train_loss"]


def test_weight_decay_keeps_finetuned_weights_near_the_pretrained_ones():
    method = small_baseline().eval()
    support, labels = torch.rand(10, 1, 28, 28), torch.arange(5).repeat(2)

    def drift(weight_decay):
        # the predictions of the fine-tuned copy, compared with those of the centroid start
        start, _ = finetune(method.backbone, support, labels, 5, steps=0)
        tuned, _ = finetune(method.backbone, support, labels, 5, steps=20, lr=1e-2, weight_decay=weight_decay)
        return (tuned(support) - start(support)).abs().mean().item()

    assert drift(10.0) < drift(0.0)


@pytest.mark.parametrize("head", HEADS)
def test_every_head_scores_an_episode(head):
    method = small_baseline(head, steps=3).eval()
    episode = EpisodeSet(tiny_dataset(size=28), 3, 2, 2, 1, seed=0)[0]
    with torch.no_grad():
        scores = method.scores(episode.support, episode.support_labels, episode.query)
    assert scores.shape == (6, 3) and torch.isfinite(scores).all()


def test_checkpoint_round_trip_and_switching_heads(tmp_path):
    method = small_baseline("logistic", steps=30, weight_decay=0.01).eval()
    save_checkpoint(tmp_path / "b.pt", method, Preprocess(28))
    loaded, pre, blob = load_method(tmp_path / "b.pt")
    assert loaded.name == "baseline" and loaded.head == "logistic" and blob["config"] == method.config
    assert loaded.option("steps") == 30 and loaded.option("weight_decay") == 0.01 and loaded.option("lr") == 1.0
    support, labels, query = torch.rand(6, 1, 28, 28), torch.arange(3).repeat(2), torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded.scores(support, labels, query), method.scores(support, labels, query))
    # one checkpoint, any head: switch on the loaded method, or on a classifier's
    loaded.head = "cosine"
    assert loaded.config["head"] == "cosine" and loaded.option("steps") == 30
    clf = FewShotClassifier(loaded, pre)
    clf.method.configure(head="centroid")
    clf.fit(support[:3], ["a", "b", "c"])  # one shot: each centroid is its image, nearest to itself
    assert clf.predict(support[:3]) == ["a", "b", "c"]


def test_clear_errors_for_bad_options():
    with pytest.raises(ValueError, match="unknown head 'knn'; choose one of centroid, logistic, cosine, finetune"):
        Baseline(head="knn")
    with pytest.raises(ValueError, match="steps must be a whole number >= 0"):
        Baseline(steps=-1)
    with pytest.raises(ValueError, match="lr must be positive"):
        Baseline(head="finetune", lr=0)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        Baseline(weight_decay=-1.0)
    method = Baseline()
    with pytest.raises(ValueError, match="unknown head 'linear'"):
        method.head = "linear"
    assert method.head == "centroid"  # a failed switch leaves the method as it was
    with pytest.raises(ValueError, match="baseline has no option 'shots'"):
        method.configure(shots=5)
    with pytest.raises(ValueError, match="baseline has no option 'temperature'"):
        build_method("baseline", temperature=2)


def test_pretraining_writes_a_baseline_checkpoint_and_resumes(tmp_path):
    torch.manual_seed(0)
    data, val = tiny_dataset(8, 6, size=28, seed=0), tiny_dataset(6, 6, size=28, seed=1)
    config = PretrainConfig(epochs=2, batch_size=16, lr=1e-2, val_way=3, val_shot=2, val_query=2,
                            val_episodes=3, command="test")
    out = tmp_path / "b.pt"
    record = pretrain(Baseline(head="logistic", backbone_config={"hidden": 8}), data, val, config, out,
                      progress=False)
    assert record["epochs_done"] == 2 and len(record["history"]) == 2
    assert record["history"][1]["train_loss"] < record["history"][0]["train_loss"]
    assert json.loads(out.with_suffix(".json").read_text())["train"]["command"] == "test"
    method, _, blob = load_method(out)
    assert method.head == "logistic"  # the classifier of pretraining is not part of the checkpoint
    assert not any("classifier" in k for k in blob["state_dict"])
    assert blob["metrics"]["best"]["epoch"] == record["best"]["epoch"]
    # a longer run with the same settings would have another schedule: resuming it is refused...
    with pytest.raises(ValueError, match="other settings"):
        pretrain(Baseline(backbone_config={"hidden": 8}), data, val,
                 PretrainConfig(**{**config.__dict__, "epochs": 3}), out, progress=False)
    # ...while the same run resumes at its end, with nothing left to do
    again = pretrain(Baseline(backbone_config={"hidden": 8}), data, val, config, out, progress=False)
    assert again["history"] == record["history"]


def test_first_episodes_are_the_same_episodes():
    full = EpisodeSet(tiny_dataset(), 3, 1, 2, 10, seed=0)
    head = first_episodes(full, 4)
    assert len(head) == 4 and len(full) == 10
    assert torch.equal(head[3].support, full[3].support) and torch.equal(head[3].items, full[3].items)
    assert head.describe().startswith("the first 4 of 10 tiny episodes")
    with pytest.raises(ValueError, match="between 1 and 10"):
        first_episodes(full, 11)


def test_evaluate_heads_writes_every_head(tmp_path, monkeypatch):
    from fsl_course.training import pretrain as pretrain_module

    save_checkpoint(tmp_path / "b.pt", small_baseline("centroid"), Preprocess(28))
    monkeypatch.setattr("fsl_course.data.omniglot.load_omniglot", lambda *a, **k: tiny_dataset(8, 6, size=28))
    results = pretrain_module.evaluate_heads(tmp_path / "b.pt", ("centroid", "finetune"), shots=(1,), way=3,
                                             n_episodes=4, finetune_episodes=2, query=2,
                                             json_path=tmp_path / "b.heads.json", command="cmd", progress=False)
    written = json.loads((tmp_path / "b.heads.json").read_text())
    assert written["command"] == "cmd" and set(written["results"]) == {"centroid", "finetune"}
    assert written["results"]["finetune"]["3-way 1-shot"]["episodes"] == 2
    assert results["centroid"]["3-way 1-shot"].accuracies.shape == (4,)
    assert written["options"]["finetune"]["steps"] == 20
    recorded = pretrain_module.recorded_heads("b", tmp_path)
    assert recorded["finetune"]["3-way 1-shot"].episodes == 2
    assert recorded["centroid"]["3-way 1-shot"].mean == pytest.approx(results["centroid"]["3-way 1-shot"].mean,
                                                                      abs=1e-3)
    assert written["results"]["finetune"]["3-way 1-shot"]["command"] == "cmd"
    # a second run adds its heads and settings to the same file
    pretrain_module.evaluate_heads(tmp_path / "b.pt", ("logistic",), shots=(2,), way=3, n_episodes=2, query=2,
                                   json_path=tmp_path / "b.heads.json", command="cmd2", progress=False)
    merged = json.loads((tmp_path / "b.heads.json").read_text())
    assert set(merged["results"]) == {"centroid", "finetune", "logistic"}
    assert merged["results"]["logistic"]["3-way 2-shot"]["command"] == "cmd2"
    assert merged["results"]["finetune"] == written["results"]["finetune"]
    save_checkpoint(tmp_path / "other.pt", small_baseline("centroid"), Preprocess(28))
    with pytest.raises(ValueError, match="holds results of .*b.pt"):
        pretrain_module.evaluate_heads(tmp_path / "other.pt", ("centroid",), shots=(1,), way=3, n_episodes=2,
                                       query=2, json_path=tmp_path / "b.heads.json", progress=False)
    with pytest.raises(FileNotFoundError, match="fsl-course heads"):
        pretrain_module.recorded_heads("missing", tmp_path)
    with pytest.raises(ValueError, match="heads are an option of baseline checkpoints"):
        from fsl_course.methods.protonet import ProtoNet

        save_checkpoint(tmp_path / "p.pt", ProtoNet(), Preprocess(28))
        evaluate_heads(tmp_path / "p.pt")


def test_cli_pretrain_and_heads_pass_their_options(monkeypatch, tmp_path, capsys):
    from fsl_course import cli

    seen = {}

    def fake_pretrain(method, train_data, val_data, config, out, preprocess, device=None, resume=True):
        seen.update(method=method, config=config, val=val_data, resume=resume)
        return {"best": {"val_accuracy": 97.5, "epoch": 3}}

    monkeypatch.setattr("fsl_course.training.pretrain.pretrain", fake_pretrain)
    monkeypatch.setattr("fsl_course.data.omniglot.load_omniglot", lambda *a, **k: tiny_dataset(8, 6, size=28))
    assert cli.main(["pretrain", "--out", str(tmp_path / "b.pt"), "--head", "cosine", "--epochs", "3",
                     "--shift", "0", "--no-resume"]) == 0
    assert seen["method"].head == "cosine" and seen["config"].epochs == 3 and seen["config"].shift == 0
    assert seen["val"] is not None and seen["resume"] is False
    assert seen["config"].command.startswith("fsl-course pretrain --out")
    assert "best validation accuracy 97.50 % at epoch 3" in capsys.readouterr().out
    assert cli.main(["pretrain", "--out", str(tmp_path / "b.pt"), "--val-split", "none"]) == 1
    assert "error: pretraining selects its epoch on validation episodes; give a --val-split" in capsys.readouterr().err

    calls = {}
    monkeypatch.setattr("fsl_course.training.pretrain.evaluate_heads", lambda *a, **k: calls.update(args=a, kwargs=k))
    assert cli.main(["heads", str(tmp_path / "b.pt"), "--heads", "logistic", "--shots", "5",
                     "--finetune-episodes", "50", "--json", str(tmp_path / "h.json")]) == 0
    checkpoint, heads, shots, way, episodes, finetune_episodes = calls["args"][:6]
    assert heads == ["logistic"] and shots == [5] and way == 5 and episodes == 1000 and finetune_episodes == 50
    assert calls["kwargs"]["json_path"] == str(tmp_path / "h.json")
