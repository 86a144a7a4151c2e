"""The words a screen reader gets for what the app shows as pictures (issue 22)."""

import numpy as np

from tl_core.pipeline.handwriting import Entry
from tl_core.pipeline.predict import Prediction
from tl_core.teaching.lesson import curves_sentence


def test_a_guess_in_words_names_the_digit_its_confidence_and_the_runner_up() -> None:
    probabilities = np.array([0, 0.05, 0, 0, 0, 0.01, 0, 0.92, 0.02, 0], np.float32)
    guess = Prediction(7, 0.92, probabilities, np.zeros((28, 28), np.uint8))
    assert guess.sentence() == "The network says 7, 92% sure; next 1 at 5%."


def test_a_wall_drawing_in_words_says_what_was_meant_and_how_it_was_read() -> None:
    assert Entry("a", 9, "1", guess=3, confidence=0.61).sentence() == (
        "A drawing of a 9, read as 3, 61% sure: wrong."
    )
    assert Entry("b", 4, "2", guess=4).sentence() == "A drawing of a 4, read as 4: right."
    assert Entry("c", 2, "3").sentence() == "A drawing of a 2."


def test_training_curves_in_words_give_where_each_curve_started_and_ended() -> None:
    history = [
        {"epoch": 1, "accuracy": 0.8, "val_accuracy": 0.85, "loss": 0.6, "val_loss": 0.5},
        {"epoch": 2, "accuracy": 0.95, "val_accuracy": 0.9, "loss": 0.2, "val_loss": 0.3},
    ]
    assert curves_sentence(history, ("accuracy", "val_accuracy")) == (
        "Epochs 1 to 2: training accuracy from 0.800 to 0.950; "
        "validation accuracy from 0.850 to 0.900."
    )
