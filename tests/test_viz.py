"""The plotting helpers return Figures with the expected axes and images (drawn off-screen with Agg)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fsl_course import viz  # noqa: E402
from fsl_course.data.omniglot import FewShotDataset  # noqa: E402
from fsl_course.episodes import EpisodeSet  # noqa: E402
from fsl_course.evaluation.evaluate import EvalResult  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def n_images(fig):
    return sum(len(ax.images) for ax in fig.axes)


def tiny_omniglot(rotations=True):
    """3 alphabets of 2, 3 and 4 characters (x4 rotations when ``rotations``), 5 drawings of 8x8 each."""
    names = [f"{a}/character{c:02d}" for a, n in [("Alpha", 2), ("Beta_(x)", 3), ("Gamma", 4)]
             for c in range(1, n + 1)]
    if rotations:
        names = [f"{n}/rot{r:03d}" for n in names for r in (0, 90, 180, 270)]
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (len(names), 5, 8, 8), generator=g, dtype=torch.uint8)
    return FewShotDataset("tiny", imgs, names)


def test_show_images_draws_one_titled_axes_per_image_for_uint8_and_float_inputs():
    imgs = torch.randint(0, 256, (10, 1, 6, 6), dtype=torch.uint8)
    fig = viz.show_images(imgs, titles=[f"#{i}" for i in range(10)], ncols=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 10 and n_images(fig) == 10
    assert [ax.get_title() for ax in fig.axes] == [f"#{i}" for i in range(10)]
    shown = fig.axes[3].images[0].get_array()
    np.testing.assert_allclose(shown, imgs[3, 0].numpy() / 255.0, atol=1e-6)
    fig = viz.show_images([torch.rand(5, 5), torch.rand(1, 5, 5), torch.rand(3, 5, 5)])
    assert len(fig.axes) == 3 and n_images(fig) == 3


def test_show_images_checks_its_titles():
    with pytest.raises(ValueError, match="titles"):
        viz.show_images(torch.rand(3, 4, 4), titles=["a"])


def test_show_alphabets_shows_one_row_per_alphabet_of_unrotated_characters():
    data = tiny_omniglot()
    fig = viz.show_alphabets(data, n_alphabets=2, per_alphabet=3)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 * 3
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert len(labels) == 2 and set(labels) <= {"Alpha", "Beta (x)", "Gamma"}
    # only rot000 classes, first drawing: every picture shown is one of those
    originals = [data.images[c, 0].numpy() / 255.0 for c, n in enumerate(data.class_names) if n.endswith("rot000")]
    for ax in fig.axes:
        for im in ax.images:
            assert any(np.allclose(im.get_array(), o) for o in originals)
    # an alphabet with fewer characters than per_alphabet leaves the rest of its row empty
    fig = viz.show_alphabets(tiny_omniglot(rotations=False), n_alphabets=3, per_alphabet=10)
    assert len(fig.axes) == 3 * 4 and n_images(fig) == 2 + 3 + 4


def test_show_episode_separates_support_and_query_with_titles_and_labels():
    data = tiny_omniglot()
    ep = EpisodeSet(data, way=3, shot=2, query=3, n_episodes=1, seed=0)[0]
    fig = viz.show_episode(ep, data)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 and n_images(fig) == 2
    support_ax, query_ax = fig.axes
    assert support_ax.get_title().replace("\n", " ") == "support set (3-way 2-shot)"  # on two lines if narrow
    assert query_ax.get_title() == "query set"
    # one row per class (3 rows), 2 support / 3 query images per row, 8x8 images with 1-pixel lines between
    assert support_ax.images[0].get_array().shape == (3 * 9 + 1, 2 * 9 + 1)
    assert query_ax.images[0].get_array().shape == (3 * 9 + 1, 3 * 9 + 1)
    row_labels = [t.get_text() for t in support_ax.get_yticklabels()]
    assert row_labels == [f"{i}: {data.class_names[int(c)]}" for i, c in enumerate(ep.classes)]
    # the montage holds the episode's images: first support image of label 1 at row 1, column 0
    np.testing.assert_allclose(support_ax.images[0].get_array()[10:18, 1:9], ep.support[2, 0].numpy(), atol=1e-6)
    fig = viz.show_episode(ep)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["label 0", "label 1", "label 2"]


@pytest.mark.parametrize("shot", [1, 5])
@pytest.mark.parametrize("query", [1, 2, 5, 15])
@pytest.mark.parametrize("named", [True, False], ids=["class names", "labels only"])
def test_show_episode_titles_never_overlap_and_stay_in_the_figure(shot, query, named):
    # at 1 shot the support panel is one image wide: its one-line title, centred over it, ran into the query's
    data = tiny_omniglot(rotations=False)
    data = FewShotDataset("tiny", data.images.repeat(1, 4, 1, 1), data.class_names)  # 20 drawings a class
    ep = EpisodeSet(data, way=5, shot=shot, query=query, n_episodes=1, seed=0)[0]
    fig = viz.show_episode(ep, data if named else None)
    fig.canvas.draw()
    support_ax, query_ax = fig.axes
    assert support_ax.get_title().replace("\n", " ") == f"support set (5-way {shot}-shot)"
    assert query_ax.get_title() == "query set"
    s_box, q_box = (ax.title.get_window_extent() for ax in (support_ax, query_ax))
    assert not s_box.overlaps(q_box), (s_box, q_box)
    page = fig.bbox
    for box in (s_box, q_box):
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, (box, page)
    # each title stays above its own panel (not over the images)
    for ax, box in ((support_ax, s_box), (query_ax, q_box)):
        assert box.y0 >= ax.get_window_extent().y1


def test_show_episode_shows_colour_photos_in_colour_with_readable_class_names():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (4, 5, 3, 8, 8), dtype=torch.uint8)
    data = FewShotDataset("photos", images, ["n01", "n02", "n03", "n04"], info={"names": ["ant", "bee", "cat", "dog"]})
    ep = EpisodeSet(data, way=3, shot=1, query=2, n_episodes=1, seed=0)[0]
    support_ax, _ = viz.show_episode(ep, data).axes
    picture = support_ax.images[0].get_array()
    assert picture.shape == (3 * 9 + 1, 1 * 9 + 1, 3)
    np.testing.assert_allclose(picture[10:18, 1:9], ep.support[1].permute(1, 2, 0).numpy(), atol=1e-6)
    names = ["ant", "bee", "cat", "dog"]
    assert [t.get_text() for t in support_ax.get_yticklabels()] == [f"{i}: {names[int(c)]}"
                                                                     for i, c in enumerate(ep.classes)]


def test_plot_curves_groups_losses_and_accuracies():
    history = [{"step": s, "train_loss": 1 / (s + 1), "train_accuracy": 10.0 * s, "test_loss": 1.0,
                "test_accuracy": 20.0} for s in range(5)]
    fig = viz.plot_curves(history)
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train loss", "test loss"]
    assert [line.get_label() for line in acc_ax.get_lines()] == ["train accuracy", "test accuracy"]
    assert list(acc_ax.get_lines()[0].get_ydata()) == [0.0, 10.0, 20.0, 30.0, 40.0]
    fig = viz.plot_curves(history, keys=["test_accuracy"])
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 1


def test_plot_curves_reads_the_training_loops_history():
    history = [{"step": 500 * i, "train_loss": 1.0, "train_accuracy": 90.0, "lr": 1e-3, "seconds": 1.0,
                "val_accuracy": 95.0 + i, "val_ci95": 0.5} for i in (1, 2, 3)]
    fig = viz.plot_curves(history)
    assert len(fig.axes) == 2  # loss; accuracy (lr, seconds and the interval are left out)
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["train accuracy", "val accuracy"]
    with pytest.raises(ValueError, match="empty"):
        viz.plot_curves([])


def test_plot_curves_marks_where_a_continued_stage_starts():
    history = [{"step": 2, "train_loss": 1.0, "val_accuracy": 90.0},
               {"step": 4, "train_loss": 0.5, "val_accuracy": 91.0},
               {"step": 4, "val_accuracy": 91.0, "note": "start of a stage continuing a.pt"},
               {"step": 6, "train_loss": 0.4, "val_accuracy": 93.0}]
    fig = viz.plot_curves(history)
    for ax in fig.axes:
        marks = [line for line in ax.get_lines() if line.get_label() == "a continued stage starts"]
        assert len(marks) == 1 and list(marks[0].get_xdata()) == [4, 4]
    loss = [line for line in fig.axes[0].get_lines() if line.get_label() == "train loss"][0]
    assert list(loss.get_xdata()) == [2, 4, 6]  # the stage's starting point has no training loss


def test_plot_accuracy_bars_draws_means_with_95_percent_error_bars():
    results = {"5-way": EvalResult(torch.tensor([0.4, 0.6, 0.5, 0.5], dtype=torch.float64), 1.0),
               "20-way": EvalResult(torch.tensor([0.2, 0.3, 0.25], dtype=torch.float64), 1.0)}
    fig = viz.plot_accuracy_bars(results, title="pixel NN", chance={"5-way": 20.0, "20-way": 5.0})
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert [p.get_height() for p in ax.patches] == pytest.approx([50.0, 25.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5-way", "20-way"]
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert bars.errorbar is not None
    segments = bars.errorbar.lines[2][0].get_segments()
    half_widths = [(seg[1][1] - seg[0][1]) / 2 for seg in segments]
    assert half_widths == pytest.approx([results["5-way"].ci95, results["20-way"].ci95])
    assert ax.get_title() == "pixel NN"
    assert any(str(results["5-way"]) == t.get_text() for t in ax.texts)


def test_project_2d_keeps_the_main_axis_and_projects_others_alike():
    from fsl_course.viz import project_2d

    x = torch.tensor([[-2.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    p, q = project_2d(x, x[:2])
    assert p.shape == (4, 2)
    np.testing.assert_allclose(abs(p[:2, 0]), [2.0, 2.0], atol=1e-9)  # the widest spread is the first axis
    np.testing.assert_allclose(abs(p[2:, 1]), [1.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(q, p[:2])


def test_embeddings_plot_and_mistakes():
    from fsl_course.episodes import EpisodeSet
    from fsl_course.viz import plot_embeddings_2d, show_mistakes
    from tests.conftest import tiny_dataset

    ep = EpisodeSet(tiny_dataset(6, 5, 8), 3, 2, 2, 1, seed=0)[0]
    z, zs = ep.query.flatten(1), ep.support.flatten(1)
    fig = plot_embeddings_2d(z, ep.query_labels, zs[::2], zs, ep.support_labels)
    assert len(fig.axes[0].collections) == 3
    plt.close(fig)
    scores = torch.zeros(len(ep.query_labels), 3)
    scores[:, 0] = 1  # everything called class 0: the four queries of classes 1 and 2 are wrong
    fig = show_mistakes(ep, scores)
    assert len(fig.axes) == 12 and fig.axes[1].get_title() == f"support of {int(ep.query_labels[2])}"
    assert fig._suptitle.get_text().startswith("all 4 misclassified queries (of 6)")
    plt.close(fig)
    fig = show_mistakes(ep, scores, max_rows=3)  # only some shown: the title says how many of how many
    assert len(fig.axes) == 9 and fig._suptitle.get_text().startswith("3 of the 4 misclassified queries (of 6)")
    plt.close(fig)
    scores = torch.nn.functional.one_hot(ep.query_labels, 3).float()
    fig = show_mistakes(ep, scores)
    assert fig.axes[0].texts[0].get_text() == "no query was misclassified"
    plt.close(fig)


def test_show_attention_draws_each_support_image_with_its_weight():
    from tests.conftest import tiny_dataset

    ep = EpisodeSet(tiny_dataset(6, 5, 8), 3, 2, 2, 1, seed=0)[0]  # 6 support images, 6 queries
    attention = torch.tensor([[0.5, 0.1, 0.1, 0.1, 0.1, 0.1]]).repeat(6, 1)
    fig = viz.show_attention(ep, attention, queries=[0, 3])
    assert n_images(fig) == 2 * (1 + 6)
    bars = [ax for ax in fig.axes if ax.containers]
    assert len(bars) == 12
    assert [round(b.containers[0][0].get_height(), 3) for b in bars[:6]] == [0.5] + [0.1] * 5
    assert bars[0].get_xlabel() == "0.50"
    top = viz.show_attention(ep, attention, queries=[1], top=2)
    assert n_images(top) == 3 and [ax.get_xlabel() for ax in top.axes if ax.containers] == ["0.50", "0.10"]


def test_plot_score_matrix_marks_right_and_wrong_choices():
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    labels = torch.tensor([0, 1, 1])  # the third query (class 1) is called class 0
    fig = viz.plot_score_matrix(scores, labels)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), scores[[0, 1, 2]].numpy())
    right, wrong = ax.collections
    assert right.get_offsets().tolist() == [[0, 0], [1, 1]] and wrong.get_offsets().tolist() == [[0, 2]]
