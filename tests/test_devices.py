"""Running on other devices: data placed once, episodes gathered where the data lives, mixed precision behind
``--amp`` (bfloat16 on a CPU, so it is tested here; float16 with gradient scaling on older GPUs), and the device
and precision written into every record. No GPU is needed: the placement is checked on the ``meta`` device,
which holds shapes and no data."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from fsl_course.config import autocast
from fsl_course.episodes import EpisodeSet
from fsl_course.methods import build_method
from fsl_course.training.episodic import TrainConfig, _config_key, state_path, train
from fsl_course.training.pretrain import PretrainConfig, _resume_key
from tests.conftest import tiny_dataset

TRAIN, VAL = tiny_dataset(12, 6, 28, seed=1), tiny_dataset(6, 6, 28, seed=2)


def test_a_data_set_moves_once_and_its_episodes_are_gathered_there():
    data = tiny_dataset(6, 5, 8)
    assert data.for_device("cpu") is data and data.to("cpu") is data  # nothing to move, nothing copied
    moved = data.to("meta")
    assert moved.images.device.type == "meta" and data.images.device.type == "cpu"
    assert moved.n_classes == 6 and moved.class_names == data.class_names
    episode = EpisodeSet(moved, 3, 2, 1, n_episodes=2)[1]
    assert episode.support.device.type == "meta" and episode.support.dtype == torch.float32
    assert episode.support.shape == (6, 1, 8, 8) and episode.query.shape == (3, 1, 8, 8)
    # the episode's indices are the same wherever the images are
    here = EpisodeSet(data, 3, 2, 1, n_episodes=2)[1]
    assert torch.equal(episode.classes, here.classes) and torch.equal(episode.items, here.items)
    assert episode.to("meta").query_labels.device.type == "meta"


def _episode():
    return EpisodeSet(TRAIN, 4, 2, 3, n_episodes=1, seed=3)[0]


def test_a_mixed_precision_step_runs_in_bfloat16_and_follows_the_float32_gradient():
    torch.manual_seed(0)
    method = build_method("protonet")
    episode = _episode()
    seen = []
    hook = method.backbone.register_forward_hook(lambda m, i, out: seen.append(out.dtype))

    def step(amp: bool):
        method.zero_grad()
        with autocast("cpu", amp):
            loss, scores = method.loss(episode)
        loss.backward()
        return loss.detach(), scores.dtype, torch.cat([p.grad.flatten() for p in method.parameters()])

    loss32, _, grad32 = step(False)
    loss16, scores_dtype, grad16 = step(True)
    hook.remove()
    half = len(seen) // 2  # the backbone's calls in the float32 step, then in the mixed one
    assert seen[:half] == [torch.float32] * half and seen[half:] == [torch.bfloat16] * half  # the network in bf16
    assert loss16.dtype == torch.float32  # the loss is computed in float32
    assert abs(loss16 - loss32) / loss32 < 0.02
    assert F.cosine_similarity(grad16, grad32, dim=0) > 0.95  # the same direction, to bfloat16's precision
    assert scores_dtype in (torch.float32, torch.bfloat16)


def _config(**kw):
    return TrainConfig(way=4, shot=1, query=2, episodes=4, lr_step=2, val_way=3, val_query=2, val_episodes=4,
                       val_every=2, seed=5, **kw)


def test_training_with_amp_records_its_precision_and_keeps_its_state_apart(tmp_path):
    torch.manual_seed(0)
    record = train(build_method("protonet"), TRAIN, VAL, _config(amp=True), tmp_path / "amp.pt", progress=False)
    assert record["precision"] == "mixed bfloat16 (torch.autocast)" and record["device"] == "cpu"
    assert record["train"]["amp"] is True
    assert json.loads((tmp_path / "amp.json").read_text())["precision"] == record["precision"]
    assert all(torch.isfinite(torch.tensor(h["train_loss"])) for h in record["history"])
    # a float32 run's state cannot be resumed in mixed precision, nor the other way round
    torch.manual_seed(0)
    train(build_method("protonet"), TRAIN, VAL, _config(), tmp_path / "fp32.pt", progress=False)
    with pytest.raises(ValueError, match="other settings"):
        train(build_method("protonet"), TRAIN, VAL, _config(amp=True), tmp_path / "fp32.pt", progress=False)
    with pytest.raises(ValueError, match="other settings"):
        train(build_method("protonet"), TRAIN, VAL, _config(), tmp_path / "amp.pt", progress=False)
    assert state_path(tmp_path / "amp.pt").is_file()


def test_float32_runs_keep_the_resume_keys_they_had_before_amp_existed():
    """The runs in checkpoints/in_training/ were written before --amp: their states must still resume."""
    assert "amp" not in _config_key(TrainConfig()) and _config_key(TrainConfig(amp=True))["amp"] is True
    assert "amp" not in _resume_key(PretrainConfig()) and _resume_key(PretrainConfig(amp=True))["amp"] is True


def test_pretraining_with_amp_records_its_precision(tmp_path):
    from fsl_course.methods.baseline import Baseline
    from fsl_course.training.pretrain import pretrain

    torch.manual_seed(0)
    config = PretrainConfig(epochs=1, batch_size=16, shift=0, val_shot=1, val_query=2, val_episodes=2, max_batches=2,
                            amp=True)
    record = pretrain(Baseline(), TRAIN, VAL, config, tmp_path / "base.pt", progress=False)
    assert record["precision"] == "mixed bfloat16 (torch.autocast)" and record["device"] == "cpu"
    assert torch.isfinite(torch.tensor(record["history"][0]["train_loss"]))


def test_evaluate_records_the_device_it_ran_on(tmp_path):
    from fsl_course.cli import main

    out = tmp_path / "e.json"
    assert main(["evaluate", "checkpoints/protonet_omniglot_1shot.pt", "--way", "5", "--shot", "1", "--episodes",
                 "2", "--device", "cpu", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["device"] == "cpu" and record["results"]["5-way 1-shot"]["episodes"] == 2
