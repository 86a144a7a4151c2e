"""Step 7, evaluate: a model's accuracy and confusion matrix on a run's own test digits and
on real people's digits.

Scores come from the same `Predictor` that serves drawings, so what a run reports is what
the class gets.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from tl_core.i18n import _
from tl_core.pipeline.augment import augmented_test_set
from tl_core.pipeline.data import MnistData, load_budget
from tl_core.pipeline.people import people_test_set
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.runs import Run


def score(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy and the 10x10 confusion matrix (rows: true digit, columns: guess)."""
    guesses = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (labels, guesses), 1)
    return {"accuracy": float((guesses == labels).mean()), "confusion": confusion.tolist()}


def per_digit_accuracy(confusion: list[list[int]]) -> list[float]:
    """Accuracy on each true digit 0-9, from a confusion matrix (rows: true digit)."""
    matrix = np.asarray(confusion)
    totals = np.maximum(matrix.sum(axis=1), 1)
    return [round(float(a), 4) for a in np.diag(matrix) / totals]


def weakest_digit(per_digit: list[float]) -> str:
    """The digit read worst and its accuracy, as "9: 0.83"."""
    digit = int(np.argmin(per_digit))
    return f"{digit}: {per_digit[digit]:.2f}"


def commonest_confusions(confusion: list[list[int]], count: int = 3) -> list[str]:
    """The `count` commonest misreadings of a confusion matrix, as "1 read as 7 (35)"."""
    matrix = np.array(confusion)
    np.fill_diagonal(matrix, 0)
    cells = np.argsort(matrix, axis=None)[::-1][:count]
    return [
        _("{digit} read as {guess} ({count})", digit=true, guess=guess, count=matrix[true, guess])
        for true, guess in zip(*np.unravel_index(cells, matrix.shape), strict=True)
        if matrix[true, guess] > 0
    ]


def run_metrics(
    probabilities: dict[str, np.ndarray],
    test_labels: np.ndarray,
    people_labels: np.ndarray,
    drawn_labels: np.ndarray,
) -> dict[str, Any]:
    """What a run records of its model: accuracy and confusion on the clean and augmented
    test digits (`test_clean`, `test_aug`), on real people's digits from writers it never
    trained on (`people`, with the accuracy per digit) and on the drawn-digit set (`drawn`)."""
    results = {
        "test_clean": score(probabilities["test_clean"], test_labels),
        "test_aug": score(probabilities["test_aug"], test_labels),
        "people": score(probabilities["people"], people_labels),
        "drawn": score(probabilities["drawn"], drawn_labels),
    }
    return {
        "test_accuracy": results["test_clean"]["accuracy"],
        "test_accuracy_augmented": results["test_aug"]["accuracy"],
        "people_accuracy": results["people"]["accuracy"],
        "people_digits": len(people_labels),
        "people_per_digit": per_digit_accuracy(results["people"]["confusion"]),
        "drawn_accuracy": results["drawn"]["accuracy"],
        "drawn_digits": len(probabilities["drawn"]),
        "confusion": results["test_clean"]["confusion"],
        "confusion_augmented": results["test_aug"]["confusion"],
        "confusion_people": results["people"]["confusion"],
        "confusion_drawn": results["drawn"]["confusion"],
    }


@dataclass(frozen=True)
class Evaluation:
    """A run's model on its own test set, clean and augmented (as in training), and on the
    people's test writers (as many per digit as the run's test set)."""

    data: MnistData
    augmented: np.ndarray
    probabilities: np.ndarray
    probabilities_augmented: np.ndarray
    people_labels: np.ndarray
    probabilities_people: np.ndarray

    @property
    def people_accuracy(self) -> float:
        return score(self.probabilities_people, self.people_labels)["accuracy"]

    @property
    def accuracy(self) -> float:
        return score(self.probabilities, self.data.y_test)["accuracy"]

    @property
    def accuracy_augmented(self) -> float:
        return score(self.probabilities_augmented, self.data.y_test)["accuracy"]

    def misclassified(self, true_digit: int, guess: int) -> np.ndarray:
        """Indices of clean test digits of class `true_digit` that the model called `guess`."""
        guesses = self.probabilities.argmax(axis=1)
        return np.flatnonzero((self.data.y_test == true_digit) & (guesses == guess))


def evaluate_run(run: Run, predictor: Predictor) -> Evaluation:
    """Rebuild the run's test set from its config and score its model on it."""
    config = run.config
    data = load_budget(config)
    augmented = augmented_test_set(data.x_test, config.ranges, config.seed)
    people = people_test_set(config.test_per_class, config.seed)
    return Evaluation(
        data,
        augmented,
        predictor.probabilities(data.x_test),
        predictor.probabilities(augmented),
        people.y,
        predictor.probabilities(people.x),
    )
