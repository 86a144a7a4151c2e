"""Why the network said so: the heat map over a drawing (tl_core.teaching.explain)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tl_core.pipeline.data import load_embedded
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.runs import Run, load_model
from tl_core.teaching.explain import HEAT_SCALE, TOWARD_GUESS, Explanation, explain, heat_image


@pytest.fixture(scope="module")
def served(tiny_run: Run) -> Predictor:
    return Predictor(load_model(tiny_run, tiny_run.path.parent))


def log_odds(predictor: Predictor, digits: np.ndarray, guess: int, runner_up: int) -> np.ndarray:
    probabilities = predictor.probabilities(digits)
    return np.log(probabilities[:, guess] + 1e-7) - np.log(probabilities[:, runner_up] + 1e-7)


def test_the_map_lies_on_the_strokes_and_names_the_two_digits(served) -> None:
    predictor = served
    digit = load_embedded().x_test[3]
    probabilities = predictor.probabilities(digit[np.newaxis])[0]
    explanation = explain(predictor.predict_digit(digit, explained=True))
    top_two = np.argsort(probabilities)[::-1][:2]
    assert (explanation.guess, explanation.runner_up) == tuple(int(d) for d in top_two)
    assert explanation.push.shape == (28, 28)
    assert np.abs(explanation.push).max() == pytest.approx(1.0)
    blank = np.lib.stride_tricks.sliding_window_view(np.pad(digit, 1), (3, 3)).max(axis=(2, 3)) == 0
    assert np.all(explanation.push[blank] == 0)  # nothing pushes where nothing is drawn
    sentence = explanation.sentence()
    assert (
        f"say {explanation.guess}" in sentence and f"pointed to {explanation.runner_up}" in sentence
    )


def test_removing_the_orange_strokes_weakens_the_guess_more_than_removing_the_blue(
    served,
) -> None:
    """The map is not decoration: what it marks orange is what the guess rests on."""
    predictor = served
    drops = []  # how much the guess's log-odds fall without the orange, without the blue
    for digit in load_embedded().x_test[::33]:  # 31 digits, every class
        explanation = explain(predictor.predict_digit(digit, explained=True))
        order = np.argsort(explanation.push, axis=None)
        without_orange, without_blue = digit.copy(), digit.copy()
        without_orange.flat[order[-15:]] = 0  # the 15 pixels that pushed most toward the guess
        without_blue.flat[order[:15]] = 0  # and those that pushed most toward the runner-up
        odds = log_odds(
            predictor, np.stack([digit, without_orange, without_blue]), explanation.guess,
            explanation.runner_up,
        )  # fmt: skip
        drops.append((odds[0] - odds[1], odds[0] - odds[2]))
    orange, blue = np.mean(drops, axis=0)
    print(f"log-odds drop without the orange strokes {orange:.2f}, without the blue {blue:.2f}")
    assert orange > blue + 1.0  # the guess rests on the orange strokes, not on the blue


def test_the_heat_image_is_white_off_the_strokes_and_orange_where_they_push_the_guess(
    served,
) -> None:
    predictor = served
    digit = load_embedded().x_test[7]
    explanation = explain(predictor.predict_digit(digit, explained=True))
    image = heat_image(explanation, digit, HEAT_SCALE)
    assert image.shape == (28 * HEAT_SCALE, 28 * HEAT_SCALE, 3) and image.dtype == np.uint8
    # what Draw sends, one pixel per digit pixel, is the same map
    assert (heat_image(explanation, digit) == image[::HEAT_SCALE, ::HEAT_SCALE]).all()
    assert (image[:HEAT_SCALE, :HEAT_SCALE] == 255).all()  # a corner: no ink
    strongest = np.unravel_index(np.argmax(explanation.push), digit.shape)
    pixel = image[strongest[0] * HEAT_SCALE, strongest[1] * HEAT_SCALE].astype(float)
    ink = digit[strongest] / 255
    expected = 255 * (1 - ink) + TOWARD_GUESS * ink
    assert np.abs(pixel - expected).max() <= 2


def test_a_student_gets_the_same_guess_and_map_alone_or_with_the_class(served) -> None:
    """The explanation's pass runs in one batch for every drawing waiting; a batch must not
    change any student's answer, nor the probabilities a guess without explanation gets."""
    predictor = served
    digits = load_embedded().x_test[:12]
    alone = [predictor.predict_digit(digit, explained=True) for digit in digits]
    with ThreadPoolExecutor(len(digits)) as class_:
        together = list(class_.map(lambda d: predictor.predict_digit(d, explained=True), digits))
    plain = predictor.probabilities(digits)
    for one, other, probabilities in zip(alone, together, plain, strict=True):
        np.testing.assert_allclose(one.probabilities, probabilities, atol=1e-5)
        np.testing.assert_allclose(other.probabilities, probabilities, atol=1e-5)
        np.testing.assert_allclose(one.push, other.push, rtol=1e-3, atol=1e-3)
    assert all(prediction.push is None for prediction in [predictor.predict_digit(digits[0])])


def test_the_sentence_says_where_in_plain_words() -> None:
    push = np.zeros((28, 28), np.float32)
    push[2:6, 2:6], push[22:26, 22:26] = 1.0, -1.0  # toward the guess at the top left
    sentence = Explanation(3, 8, 0.9, 0.1, push).sentence()
    assert "say 3 (90% sure; strongest at the top left)" in sentence
    assert "pointed to 8, its second choice (10%; strongest at the bottom right)" in sentence
