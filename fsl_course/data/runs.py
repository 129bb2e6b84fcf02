"""The official 20 runs of within-alphabet 20-way one-shot classification (Lake et al., 2015).

Each run holds 20 training images (one drawing of each of 20 characters from one evaluation alphabet) and
20 test images (another drawer's drawing of each); ``class_labels.txt`` is the answer key. A method is
scored by its error rate: per run, and over all 400 test images. The images are raw 105x105 PNGs, so any
classifier from ``load_classifier`` takes them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from fsl_course.data.download import download_omniglot, omniglot_root


@dataclass
class OneShotRun:
    name: str
    training: list[Path]  # the 20 one-shot examples, class01.png .. class20.png
    test: list[Path]  # the 20 test drawings
    answers: list[int]  # answers[i] = index into ``training`` of test[i]'s class

    def images(self) -> tuple[list[Image.Image], list[Image.Image]]:
        def read(p):
            with Image.open(p) as im:
                return im.copy()

        return [read(p) for p in self.training], [read(p) for p in self.test]


def load_runs(root=None, download: bool = True) -> list[OneShotRun]:
    """The 20 official runs with their answer keys."""
    folder = omniglot_root(root) / "all_runs"
    if not folder.is_dir():
        if not download:
            raise FileNotFoundError(f"the official runs are not in {folder}; run `fsl-course download omniglot`")
        download_omniglot(root, files=["all_runs.zip"], quiet=True)
    runs = []
    for run_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("run")):
        pairs = [line.split() for line in (run_dir / "class_labels.txt").read_text().splitlines() if line.strip()]
        training = sorted((run_dir / "training").glob("*.png"))
        index = {p.name: i for i, p in enumerate(training)}
        test = [folder / t for t, _ in pairs]
        answers = [index[Path(c).name] for _, c in pairs]
        runs.append(OneShotRun(run_dir.name, training, test, answers))
    if len(runs) != 20:
        raise ValueError(f"expected the 20 official runs in {folder}, found {len(runs)}; download again")
    return runs


def score_predictions(runs: list[OneShotRun], predictions: list[list[int]]) -> dict:
    """Error rates (in %) from predicted training indices, one list per run."""
    per_run = []
    for run, pred in zip(runs, predictions, strict=True):
        wrong = sum(int(p != a) for p, a in zip(pred, run.answers, strict=True))
        per_run.append(100.0 * wrong / len(run.answers))
    return {"per_run_error": per_run, "error": sum(per_run) / len(per_run)}


def score_runs(classifier_or_path, root=None) -> dict:
    """Score a few-shot classifier (or a checkpoint path) on the official runs: error per run and overall."""
    from fsl_course.classifier import FewShotClassifier, load_classifier

    clf = classifier_or_path if isinstance(classifier_or_path, FewShotClassifier) else load_classifier(
        classifier_or_path)
    runs = load_runs(root)
    predictions = []
    for run in runs:
        training, test = run.images()
        clf.fit(training, list(range(len(training))))
        predictions.append([int(p) for p in clf.predict(test)])
    return score_predictions(runs, predictions)
