"""Reading a student's drawing: the head learns from standardised features, a run is scored
on the drawn-digit set through the same path as the Draw page, runs repeat, and the class's
held-out drawings are never trained on."""

import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from tl_core.config import TrainConfig
from tl_core.pipeline.drawn import drawn_digit_set, drawn_set_for
from tl_core.pipeline.evaluate import score
from tl_core.pipeline.handwriting import load_handwriting, save_drawing, split_held_out
from tl_core.pipeline.model import build_base_model
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.runs import load_model
from tl_core.pipeline.train import train
from tl_core.pipeline.weights import resolve_weights

SMALL = TrainConfig(
    data_source="embedded", weights="random", per_class=40, test_per_class=20, epochs=5
)


def test_the_head_learns_and_the_run_is_scored_on_drawn_digits_as_the_draw_page_is(
    tmp_path: Path,
) -> None:
    run = train(SMALL, tmp_path / "runs").run
    assert run.history[-1]["accuracy"] > 0.9  # the head fits the standardised features
    assert run.metrics["test_accuracy"] > 0.7
    drawn = drawn_set_for(SMALL.test_per_class)  # 20 per digit: its test budget
    assert run.metrics["drawn_digits"] == len(drawn)
    assert np.array(run.metrics["confusion_drawn"]).sum() == len(drawn)
    assert run.metrics["drawn_accuracy"] > 0.5
    # The saved model, through the Predictor (the Draw page's path), agrees with training.
    model = load_model(run, tmp_path / "runs")
    served = score(Predictor(model).probabilities(drawn.x), drawn.y)["accuracy"]
    assert abs(served - run.metrics["drawn_accuracy"]) < 0.03


@pytest.mark.slow  # a few trainings: with the slow tests, in CI
def test_two_runs_with_one_seed_in_two_threads_give_the_same_accuracy(tmp_path: Path) -> None:
    tiny = TrainConfig(
        data_source="embedded", weights="random", per_class=10, test_per_class=5, epochs=3
    )
    results: dict[int, dict] = {}

    def one(index: int) -> None:
        results[index] = train(tiny, tmp_path / f"runs{index}").run.metrics

    threads = [threading.Thread(target=one, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for key in ("test_accuracy", "test_accuracy_augmented", "drawn_accuracy"):
        assert abs(results[0][key] - results[1][key]) <= 0.005, key


def test_random_weights_come_from_their_seed_whatever_the_global_state() -> None:
    np.random.seed(1)
    expected = np.random.rand()
    keras.utils.set_random_seed(5)  # seeds NumPy's global generator too, so it goes first
    np.random.seed(1)
    first = build_base_model(32, resolve_weights("random"), seed=3).get_weights()
    assert np.random.rand() == expected  # NumPy's global generator untouched
    keras.utils.set_random_seed(99)  # what another thread might do meanwhile
    second = build_base_model(32, resolve_weights("random"), seed=3).get_weights()
    other = build_base_model(32, resolve_weights("random"), seed=4).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_a_run_with_the_class_set_never_trains_on_its_held_out_drawings(tmp_path: Path) -> None:
    digit = drawn_digit_set().x
    for index in range(24):
        save_drawing(digit[index * 25], index % 10)
    saved = load_handwriting()
    to_train, held_out = split_held_out(saved)
    assert len(held_out) > 0 and len(to_train) > 0
    assert split_held_out(load_handwriting())[1].names == held_out.names  # stable
    config = TrainConfig(
        data_source="embedded",
        weights="random",
        per_class=5,
        test_per_class=3,
        epochs=1,
        include_handwriting=True,
    )
    run = train(config, tmp_path / "runs").run
    trained = set(run.status["handwriting_trained"])
    assert trained == set(to_train.names)
    assert not trained & set(held_out.names)
    assert run.status["handwriting_digits"] == len(to_train)
    assert run.status["train_digits"] == 5 * 10 + len(to_train)  # MNIST's and the class's
    assert saved.without(trained).names == held_out.names


@pytest.mark.slow  # a few trainings: with the slow tests, in CI
def test_the_app_and_the_cli_give_the_same_accuracy_for_the_same_settings(
    tmp_path: Path, capsys
) -> None:
    from tl_core.cli import main
    from tl_core.pipeline.runs import latest_complete_run
    from tl_core.serving.jobs import DONE, ServerJob

    settings = dict(data_source="embedded", weights="random", per_class=10, test_per_class=5)
    job = ServerJob(tmp_path / "app-runs")  # the Train page's server-wide job
    assert job.start(TrainConfig(**settings, epochs=3))
    assert job.wait(timeout=300).state == DONE
    app_metrics = latest_complete_run(tmp_path / "app-runs").metrics
    flags = ["--source", "embedded", "--weights", "random", "--per-class", "10"]
    flags += ["--test-per-class", "5", "--epochs", "3", "--runs-dir", str(tmp_path / "cli")]
    assert main(["train", *flags]) == 0
    cli_metrics = latest_complete_run(tmp_path / "cli").metrics
    for key in ("test_accuracy", "drawn_accuracy"):
        assert abs(app_metrics[key] - cli_metrics[key]) <= 0.005, key


def test_the_held_out_part_is_never_empty_once_there_are_two_drawings() -> None:
    digit = drawn_digit_set().x[0]
    for count in range(1, 9):
        save_drawing(digit, 0)
        to_train, held_out = split_held_out(load_handwriting())
        assert len(to_train) + len(held_out) == count
        assert len(held_out) >= 1
        assert len(to_train) >= (1 if count >= 2 else 0)
