"""The pixel nearest-neighbour baseline on hand-made tensors, and training from scratch on one episode."""

import math

import pytest
import torch

from fsl_course.data.omniglot import FewShotDataset
from fsl_course.episodes import EpisodeSet
from fsl_course.evaluation.evaluate import evaluate
from fsl_course.methods.base import FewShotMethod
from fsl_course.methods.pixel import PixelNN
from fsl_course.toys.scratch import train_from_scratch
from tests.conftest import tiny_dataset


def images(*rows):
    """Flat 4-pixel rows -> [n, 1, 2, 2] float images."""
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 1, 2, 2)


# A 3-way episode of 2x2 images; class 0 has two support images, labels are not in order.
SUPPORT = images([0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 3], [2, 2, 2, 2])
SUPPORT_LABELS = torch.tensor([2, 0, 0, 1])
QUERY = images([1, 0, 0, 1], [0, 0, 1, 3], [2, 2, 2, 1], [0, 1, 0, 0])
# distances worked out by hand: query i to support j
#   q0: sqrt2, 1, sqrt5, sqrt10   q1: sqrt10, sqrt11, 1, sqrt10
#   q2: sqrt13, sqrt10, 4, 1      q3: 1, sqrt2, sqrt10, sqrt13
S2, S10, S13 = math.sqrt(2), math.sqrt(10), math.sqrt(13)
EXPECTED_SCORES = -torch.tensor([
    [1.0, S10, S2],   # class 0 = min(1, sqrt5); class 1 = sqrt10; class 2 = sqrt2
    [1.0, S10, S10],  # class 0 = min(sqrt11, 1)
    [S10, 1.0, S13],  # class 0 = min(sqrt10, 4)
    [S2, S13, 1.0],   # class 0 = min(sqrt2, sqrt10)
])


def test_pixel_nn_scores_match_hand_computed_distances():
    scores = PixelNN().scores(SUPPORT, SUPPORT_LABELS, QUERY)
    assert scores.shape == (4, 3)
    torch.testing.assert_close(scores, EXPECTED_SCORES)
    assert scores.argmax(1).tolist() == [0, 0, 1, 2]


def test_pixel_nn_scores_are_minus_the_nearest_distance_per_class():
    g = torch.Generator().manual_seed(0)
    support, query = torch.rand(12, 1, 5, 5, generator=g), torch.rand(7, 1, 5, 5, generator=g)
    labels = torch.tensor([3, 1, 0, 2, 0, 1, 2, 3, 3, 0, 1, 2])
    scores = PixelNN().scores(support, labels, query)
    for i in range(7):
        for k in range(4):
            d = min(float((query[i] - support[j]).pow(2).sum().sqrt()) for j in range(12) if labels[j] == k)
            assert scores[i, k].item() == pytest.approx(-d, rel=1e-5)


def test_pixel_nn_a_query_equal_to_a_support_image_scores_zero_for_its_class():
    scores = PixelNN().scores(SUPPORT, SUPPORT_LABELS, SUPPORT)
    assert scores.max(1).values.tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0], abs=1e-6)
    assert scores.argmax(1).tolist() == SUPPORT_LABELS.tolist()


def test_pixel_nn_is_a_parameter_free_method_that_rebuilds_from_its_config():
    m = PixelNN()
    assert isinstance(m, FewShotMethod)
    assert m.name == "pixel_nn"
    assert list(m.parameters()) == []
    assert type(m)(**m.config).config == m.config == {}


def test_pixel_nn_rejects_bad_inputs():
    with pytest.raises(ValueError, match="no gaps"):
        PixelNN().scores(SUPPORT, torch.tensor([0, 0, 2, 2]), QUERY)
    with pytest.raises(ValueError, match="same shape"):
        PixelNN().scores(SUPPORT, SUPPORT_LABELS, torch.zeros(2, 1, 3, 3))


def intensity_dataset(n_classes=8, n_per_class=6, size=6):
    """Class c: near-constant images of brightness 30*c (+-2 per image): pixel NN must get every query right."""
    g = torch.Generator().manual_seed(0)
    level = 30 * torch.arange(n_classes)[:, None, None, None]
    jitter = torch.randint(-2, 3, (n_classes, n_per_class, 1, 1), generator=g)
    imgs = (level + jitter + 2).expand(n_classes, n_per_class, size, size).to(torch.uint8).contiguous()
    return FewShotDataset("intensity", imgs, [f"Shade/character{c:02d}" for c in range(n_classes)])


def test_pixel_nn_evaluates_to_100_percent_when_classes_differ_in_brightness():
    episodes = EpisodeSet(intensity_dataset(), way=5, shot=1, query=4, n_episodes=20, seed=0)
    result = evaluate(PixelNN(), episodes, progress=False)
    assert len(result.accuracies) == 20
    assert result.mean == 100.0
    assert result.ci95 == 0.0


def test_pixel_nn_evaluates_to_0_percent_when_the_nearest_image_is_always_another_class():
    # Class 0 holds images of brightness 0 and 90, class 1 of 100 and 10. With the 0 / 100 images as the
    # support set and the 90 / 10 ones as queries, every query is nearer the other class's support image.
    imgs = torch.tensor([[0, 90], [100, 10]], dtype=torch.uint8)[:, :, None, None].expand(2, 2, 3, 3)
    data = FewShotDataset("swap", imgs.contiguous(), ["A/character01", "A/character02"])
    episodes = EpisodeSet(data, way=2, shot=1, query=1, n_episodes=40, seed=0)
    episodes.items[:] = torch.tensor([0, 1])  # support: image 0 of each class; query: image 1
    assert evaluate(PixelNN(), episodes, progress=False).mean == 0.0


@pytest.fixture
def one_thread():
    """Training runs much faster on one thread when the machine's cores are busy; restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def noise_episode(way=5, shot=1, query=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    imgs = torch.randint(0, 256, (way + 2, shot + query, 28, 28), generator=g, dtype=torch.uint8)
    data = FewShotDataset("noise", imgs, [f"Noise/character{c:02d}" for c in range(way + 2)])
    return EpisodeSet(data, way, shot, query, n_episodes=1, seed=seed)[0]


KEYS = {"step", "train_loss", "train_accuracy", "test_loss", "test_accuracy"}


def test_train_from_scratch_fits_a_5_way_1_shot_support_set(one_thread):
    history = train_from_scratch(noise_episode(), steps=30, lr=1e-2)
    assert len(history) == 31
    assert [h["step"] for h in history] == list(range(31))
    assert all(set(h) == KEYS for h in history)
    assert history[-1]["train_accuracy"] == 100.0
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(0 <= h[k] <= 100 for h in history for k in ("train_accuracy", "test_accuracy"))


def test_train_from_scratch_is_deterministic_per_seed_and_leaves_the_global_rng_alone(one_thread):
    ep = noise_episode(shot=1, query=2)
    state = torch.get_rng_state()
    a = train_from_scratch(ep, steps=3, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    b = train_from_scratch(ep, steps=3, seed=7)
    c = train_from_scratch(ep, steps=3, seed=8)
    assert a == b
    assert a != c


def test_train_from_scratch_zero_steps_scores_the_untrained_model_only(one_thread):
    history = train_from_scratch(noise_episode(), steps=0)
    assert len(history) == 1 and history[0]["step"] == 0
    with pytest.raises(ValueError, match="steps"):
        train_from_scratch(noise_episode(), steps=-1)


def test_scratch_accuracies_are_the_last_query_accuracy_of_each_episode():
    from fsl_course.toys.scratch import scratch_accuracies

    episodes = EpisodeSet(tiny_dataset(6, 5, size=28), way=3, shot=1, query=2, n_episodes=3, seed=0)
    accs = scratch_accuracies(episodes, steps=2, seed=5)
    expected = [train_from_scratch(ep, 2, 1e-3, 5 + i)[-1]["test_accuracy"] / 100 for i, ep in enumerate(episodes)]
    assert accs.tolist() == expected and accs.dtype == torch.float64


def test_paired_comparison_and_its_sentence():
    from fsl_course.evaluation.evaluate import compare_sentence, paired_difference

    a = torch.tensor([1.0, 0.8, 0.9, 1.0])
    b = torch.tensor([0.5, 0.4, 0.6, 0.5])
    diff, ci = paired_difference(a, b)
    d = a - b
    assert diff == pytest.approx(100 * d.mean().item())
    assert ci == pytest.approx(100 * 1.96 * d.std().item() / 2)
    assert compare_sentence("A", a, "B", b).startswith("A is more accurate than B by 42.50 ± ")
    assert compare_sentence("B", b, "A", a).startswith("A is more accurate than B")
    noisy = torch.tensor([0.6, 0.4, 0.5, 0.5])
    assert "within noise" in compare_sentence("A", noisy, "B", torch.tensor([0.5, 0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="same episodes: 4 against 3"):
        paired_difference(a, b[:3])


def test_scoring_fewer_steps_leaves_the_training_as_it_was():
    episode = EpisodeSet(tiny_dataset(6, 5, size=28), way=3, shot=1, query=2, n_episodes=1, seed=0)[0]
    full = train_from_scratch(episode, steps=5, seed=1)
    sparse = train_from_scratch(episode, steps=5, seed=1, every=2)
    assert [h["step"] for h in sparse] == [0, 2, 4, 5]
    assert sparse == [h for h in full if h["step"] in (0, 2, 4, 5)]
