"""Real people's digits: shipped with the app, split by writer, scored by every run."""

from pathlib import Path

import numpy as np
import pytest

from tl_core.pipeline.data import load_embedded
from tl_core.pipeline.people import (
    TEST_WRITERS,
    TRAIN_WRITERS,
    add_people,
    people_digits,
    people_test_set,
)
from tl_core.pipeline.runs import Run

SHARED_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "pendigits-train.npz"


def test_the_shipped_digits_are_30_writers_of_all_ten_digits() -> None:
    people = people_digits()
    assert people.x.shape == (7494, 28, 28) and people.x.dtype == np.uint8
    assert set(np.unique(people.writer)) == set(range(1, 31))
    for writer in range(1, 31):
        assert set(people.y[people.writer == writer]) == set(range(10))
    assert people.x.reshape(len(people), -1).max(axis=1).min() > 200  # every digit has ink


def test_no_writer_is_both_trained_on_and_scored() -> None:
    assert not set(TRAIN_WRITERS) & set(TEST_WRITERS)
    held_out = people_test_set()
    assert set(np.unique(held_out.writer)) == set(TEST_WRITERS)
    mnist = load_embedded()
    added = add_people(mnist)
    trained = added.x_train[len(mnist.x_train) :]
    assert len(trained) == int(np.isin(people_digits().writer, list(TRAIN_WRITERS)).sum())
    held_rows = {row.tobytes() for row in held_out.x}
    assert not any(row.tobytes() in held_rows for row in trained[::7])
    assert np.array_equal(added.x_test, mnist.x_test)  # the MNIST test set stays as it was


def test_a_budget_takes_as_many_of_each_digit() -> None:
    subset = people_test_set(per_class=7, seed=1)
    assert np.bincount(subset.y, minlength=10).tolist() == [7] * 10
    assert np.array_equal(subset.x, people_test_set(per_class=7, seed=1).x)


@pytest.mark.skipif(not SHARED_SOURCE.is_file(), reason="the shared pen-digits file is absent")
def test_the_shipped_digits_are_the_canvas_images_prepared_as_the_draw_page_does() -> None:
    from tl_core.pipeline.images import digit_from_image

    with np.load(SHARED_SOURCE) as source:
        rows = np.arange(0, len(source["labels"]), 250)
        images, labels = source["images"][rows], source["labels"][rows]
    people = people_digits()
    for row, image in zip(rows, images, strict=True):
        assert np.array_equal(digit_from_image(image, drawing=True), people.x[row])
    assert np.array_equal(labels, people.y[rows])


def test_every_run_is_scored_on_people_it_never_saw(trained_run: Run) -> None:
    metrics = trained_run.metrics
    test_per_class = trained_run.config.test_per_class
    assert metrics["people_digits"] == 10 * test_per_class
    confusion = np.array(metrics["confusion_people"])
    assert confusion.sum() == metrics["people_digits"]
    assert metrics["people_accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert len(metrics["people_per_digit"]) == 10
    assert metrics["people_per_digit"][3] == pytest.approx(
        confusion[3, 3] / confusion[3].sum(), abs=1e-4
    )
