"""The showdown table: recorded cells are read, missing ones evaluated, new checkpoints re-evaluated; the shipped
table is complete and says what the chapters say."""

from __future__ import annotations

import json

import matplotlib
import pytest
import torch

from fsl_course.config import REPO_ROOT, checkpoints_dir
from fsl_course.data.images import Preprocess
from fsl_course.evaluation import showdown
from fsl_course.evaluation.evaluate import parse_setting
from fsl_course.evaluation.report import recorded_results
from fsl_course.methods.maml import MAML
from fsl_course.methods.protonet import ProtoNet
from fsl_course.training.checkpoints import save_checkpoint
from tests.conftest import tiny_dataset

matplotlib.use("Agg")

ENTRIES = (showdown.Entry("ProtoNet", "protonet_tiny", "05", runs_checkpoint="protonet_tiny_bg", paper="protonet"),
           showdown.Entry("MAML", "maml_tiny", "03", paper="maml"),
           showdown.Entry("Missing", "not_shipped", "09"))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    torch.manual_seed(0)
    monkeypatch.setattr(showdown, "N_EPISODES", 3)
    monkeypatch.setattr("fsl_course.data.omniglot.load_omniglot", lambda *a, **k: tiny_dataset(22, 20, size=28))
    save_checkpoint(tmp_path / "protonet_tiny.pt", ProtoNet(backbone_config={"hidden": 8}), Preprocess(28))
    save_checkpoint(tmp_path / "maml_tiny.pt", MAML(way=5, backbone_config={"hidden": 8}), Preprocess(28))
    (tmp_path / "protonet_tiny.json").write_text(json.dumps({"train_seconds": 7200.0, "train": {"command": "t"}}))
    recorded = {"accuracy": 12.345, "ci95": 1.5, "episodes": 3, "ms_per_episode": 1.0,
                "episodes_described": "3 vinyals_test episodes, 5-way 1-shot 15-query, seed 0"}
    other = {**recorded, "episodes_described": "3 vinyals_test episodes, 5-way 5-shot 15-query, seed 7"}
    (tmp_path / "protonet_tiny.test.json").write_text(json.dumps(
        {"protocol": "vinyals", "command": "fsl-course evaluate x",
         "results": {"5-way 1-shot": recorded, "5-way 5-shot": other}}))
    (tmp_path / "protonet_tiny_bg.runs.json").write_text(json.dumps({"error": 9.25, "command": "fsl-course runs y"}))
    return tmp_path


def test_recorded_cells_are_read_and_the_others_evaluated(folder):
    record = showdown.build(folder, entries=ENTRIES, timing_episodes=2, progress=False, command="cmd")
    rows = {row["label"]: row for row in record["rows"]}
    assert set(rows) == {"ProtoNet", "MAML"}  # no checkpoint, no row
    proto = rows["ProtoNet"]["results"]
    assert proto["5-way 1-shot"]["accuracy"] == 12.345 and proto["5-way 1-shot"]["source"] == "checkpoints/protonet_tiny.test.json"
    # recorded on other episodes (another seed): not the showdown's, so evaluated again
    assert proto["5-way 5-shot"]["source"] == "fsl-course showdown" and proto["5-way 5-shot"]["episodes"] == 3
    assert set(proto) == set(showdown.SETTING_NAMES)
    assert rows["ProtoNet"]["runs"]["error"] == 9.25 and rows["MAML"]["runs"] is None
    assert rows["ProtoNet"]["parameters"] == sum(p.numel() for p in ProtoNet(backbone_config={"hidden": 8}).parameters())
    # a 5-way MAML model: the 20-way settings are not applicable, and the table says why
    maml = rows["MAML"]
    assert set(maml["results"]) == {"5-way 1-shot", "5-way 5-shot"}
    assert set(maml["not_applicable"]) == {"20-way 1-shot", "20-way 5-shot"}
    assert set(maml["ms_per_episode"]) == {"5-way 1-shot", "5-way 5-shot"}
    assert maml["sha256"] == showdown.sha256(folder / "maml_tiny.pt")

    table = showdown.markdown(record)
    assert "| ProtoNet | 12.35\u00a0±\u00a01.50 |" in table  # no line break inside a cell's number and "| 9.25 % |" in table and "| 2.0 h |" in table
    assert "*98.8*" in table and "*98.7*" in table  # the papers' rows
    assert "| MAML |" in table and "n/a" in table and "a 5-way MAML model (its head has 5 outputs)" in table


def test_previous_cells_are_kept_only_for_the_same_checkpoint(folder):
    first = showdown.build(folder, entries=ENTRIES, timing_episodes=0, progress=False)
    again = showdown.build(folder, previous=first, entries=ENTRIES, timing_episodes=0, evaluate_missing=False,
                           progress=False)
    assert again["rows"][1]["results"] == first["rows"][1]["results"]
    save_checkpoint(folder / "maml_tiny.pt", MAML(way=5, backbone_config={"hidden": 8}, inner_lr=0.1), Preprocess(28))
    changed = showdown.build(folder, previous=first, entries=ENTRIES, timing_episodes=0, evaluate_missing=False,
                             progress=False)
    assert changed["rows"][1]["results"] == {}  # a new checkpoint: its old numbers are not shown
    assert "| MAML | - | - | n/a | n/a |" in showdown.markdown(changed)


def test_the_mini_imagenet_table_reads_its_own_records_and_keeps_a_row_for_every_method(folder, monkeypatch):
    photos = tiny_dataset(22, 20, size=28)
    monkeypatch.setattr("fsl_course.data.mini_imagenet.load_mini_imagenet", lambda *a, **k: photos)
    (folder / "protonet_photo.json").write_text(json.dumps({"train_seconds": 3600.0, "train": {"command": "p"}}))
    save_checkpoint(folder / "protonet_photo.pt", ProtoNet(backbone_config={"hidden": 8}), Preprocess(28))
    cell = {"accuracy": 48.125, "ci95": 0.625, "episodes": 3, "ms_per_episode": 9.0,
            "episodes_described": "3 mini_test episodes, 5-way 1-shot 15-query, seed 0"}
    (folder / "protonet_photo.test.json").write_text(json.dumps(
        {"protocol": "mini", "command": "fsl-course evaluate p --protocol mini", "results": {"5-way 1-shot": cell}}))
    mini_entries = (showdown.Entry("ProtoNet on photos", "protonet_photo", "10", paper="protonet"),
                    showdown.Entry("Relation on photos", "relation_photo", "06", paper="relation"))
    record = showdown.build(folder, entries=ENTRIES, timing_episodes=1, progress=False, mini_entries=mini_entries)
    mini = record["mini"]
    assert mini["split"] == "mini_test" and mini["settings"] == ["5-way 1-shot", "5-way 5-shot"]
    proto, relation = mini["rows"]
    assert proto["results"]["5-way 1-shot"]["source"] == "checkpoints/protonet_photo.test.json"
    assert proto["results"]["5-way 5-shot"]["source"] == "fsl-course showdown"  # not recorded: evaluated here
    assert set(proto["ms_per_episode"]) == {"5-way 1-shot", "5-way 5-shot"}
    assert relation["checkpoint"] is None and relation["results"] == {}  # no model shipped: a row of "-"
    # the Omniglot table does not read a mini-ImageNet record, though the file is the checkpoint's test.json
    assert showdown.recorded_cell(mini_entries[0], "5-way 1-shot", folder, "vinyals") is None
    table = showdown.markdown(record)
    omniglot, photos_part = table.split("**On photos: mini-ImageNet**")
    assert "ProtoNet on photos" not in omniglot
    assert "| ProtoNet on photos | 48.12\u00a0±\u00a00.62 |" in photos_part and "| 1.0 h |" in photos_part
    assert "| Relation on photos | - | - | - | - | - |" in photos_part
    assert "| *Relation Net (Sung et al. 2018)* | *50.44* | *65.32* | | | |" in photos_part
    assert "*68.20*" in photos_part and "*78.02*" not in photos_part  # the papers' Conv-4 rows, not ResNet-12
    assert "(Relation on photos)" in photos_part  # the note names the methods without a model
    assert showdown.markdown(record, mini=False) == omniglot.rstrip("\n") + "\n"
    assert photos_part.strip() in showdown.mini_markdown(record)


def test_write_and_load(folder, tmp_path):
    record = showdown.build(folder, entries=ENTRIES[:1], timing_episodes=0, progress=False)
    showdown.write(record, tmp_path / "s.json", tmp_path / "s.md")
    assert showdown.load(tmp_path / "s.json") == record
    assert (tmp_path / "s.md").read_text() == showdown.markdown(record)
    with pytest.raises(FileNotFoundError, match="fsl-course showdown"):
        showdown.load(tmp_path / "none.json")


def test_plots(folder):
    from fsl_course.viz import plot_showdown

    record = showdown.build(folder, entries=ENTRIES, timing_episodes=1, progress=False)
    fig = plot_showdown(record)
    assert len(fig.axes) == 5  # four settings and the cost panel
    # ProtoNet in all four settings, MAML in the two 5-way ones
    assert sum(len(ax.collections) for ax in fig.axes[:4]) >= 6


def test_shipped_showdown_is_complete_and_matches_the_chapters():
    """results/showdown.json: a row for every shipped checkpoint of the table, made from that very file,
    every setting filled or said to be not applicable, the same numbers as the chapters' recorded files."""
    record = showdown.load()
    rows = {row["label"]: row for row in record["rows"]}
    for entry in showdown.ENTRIES:
        path = checkpoints_dir() / f"{entry.checkpoint}.pt"
        if not path.is_file():
            continue
        row = rows[entry.label]
        assert row["sha256"] == showdown.sha256(path), f"{entry.label}: re-run `fsl-course showdown`"
        for setting in showdown.SETTING_NAMES:
            assert setting in row["results"] or setting in row["not_applicable"], (entry.label, setting)
        for setting, cell in row["results"].items():
            assert cell["episodes"] == 1000
            way, shot = parse_setting(setting)
            assert f"{way}-way {shot}-shot 15-query, seed 0" in cell["episodes_described"]
            if cell["source"].endswith(".test.json"):
                assert cell["accuracy"] == pytest.approx(recorded_results(entry.checkpoint)[setting].mean, abs=1e-9)
            elif cell["source"].endswith(".heads.json"):
                from fsl_course.training.pretrain import recorded_heads

                heads = recorded_heads(entry.checkpoint)
                assert cell["accuracy"] == pytest.approx(heads[entry.options["head"]][setting].mean, abs=1e-9)
    mini = {row["label"]: row for row in record["mini"]["rows"]}
    assert set(mini) == {entry.label for entry in showdown.MINI_ENTRIES}
    for entry in showdown.MINI_ENTRIES:
        path = checkpoints_dir() / f"{entry.checkpoint}.pt"
        row = mini[entry.label]
        if not path.is_file():
            assert row["checkpoint"] is None and row["results"] == {}
            continue
        assert row["sha256"] == showdown.sha256(path), f"{entry.label}: re-run `fsl-course showdown`"
        for setting in showdown.MINI_SETTING_NAMES:
            cell = row["results"][setting]
            assert cell["episodes"] == 1000 and "mini_test episodes" in cell["episodes_described"]
            if cell["source"].endswith(".heads.json"):  # a head other than the checkpoint's own
                from fsl_course.training.pretrain import recorded_heads

                recorded = recorded_heads(entry.checkpoint)[entry.options["head"]][setting].mean
            else:
                recorded = recorded_results(entry.checkpoint)[setting].mean
            assert cell["accuracy"] == pytest.approx(recorded, abs=1e-9)
    assert (REPO_ROOT / "results" / "showdown.md").read_text() == showdown.markdown(record)
    assert showdown.markdown(record) in (REPO_ROOT / "README.md").read_text()


def test_timing_keeps_the_fastest_of_rounds_taken_in_alternating_order(monkeypatch):
    """A slow start or a burst of other work must not land on one setting: each (method, setting) is timed in
    every round, the rounds run forwards then backwards, and the fastest timing is kept."""
    from fsl_course.evaluation.evaluate import EvalResult

    calls = []
    slow_first = iter([50.0] + [1.0] * 1000)  # the very first timed call is slow (a cold start)

    def fake_evaluate(method, episodes, device=None, progress=False):
        calls.append((method, episodes.way, episodes.shot, len(episodes)))
        ms = next(slow_first) if len(episodes) == 4 else 0.0
        return EvalResult(torch.ones(len(episodes)), ms * len(episodes) / 1000)

    monkeypatch.setattr(showdown, "evaluate", fake_evaluate)
    rows = [{"label": "a", "not_applicable": {}}, {"label": "b", "not_applicable": {"20-way 5-shot": "no"}}]
    showdown.time_methods(rows, {"a": "A", "b": "B"}, tiny_dataset(30, 20, 28), n_episodes=4, rounds=2)
    timed = [c for c in calls if c[3] == 4]
    first_round, second_round = timed[:7], timed[7:]
    assert len(timed) == 14 and second_round == first_round[::-1]  # 4 + 3 settings, forwards then backwards
    assert all(c[3] == showdown.WARM_UP_EPISODES for c in calls[0::2])  # each timing after its warm-up
    assert rows[0]["ms_per_episode"]["5-way 1-shot"] == 1.0  # the cold first timing is not the one kept
    assert "20-way 5-shot" not in rows[1]["ms_per_episode"] and len(rows[1]["ms_per_episode"]) == 3
