"""Why the network said so: which strokes of a drawing pushed it toward its guess, which
toward its second choice.

The method is gradient times input on the 28x28 digit the network was given: for each
pixel, how much the log-odds of the guess over the runner-up would change with that pixel's
ink, times its ink. It is zero where nothing is drawn, so the map lies on the student's own
strokes. Chosen by cost: one forward and backward pass, which the Predictor runs in the same
batch as the guess (tl_core.pipeline.predict, `explained=True`), so a class drawing at once
shares one pass; alone it cost 34 ms of CPU per drawing on 2 cores at the app's defaults,
where integrated gradients (4 to 16 passes, smoother maps) took 100 to 250 ms and occlusion
needs a pass per patch.
"""

from dataclasses import dataclass

import numpy as np

from tl_core.i18n import N_, _, percent
from tl_core.pipeline.predict import Prediction
from tl_core.pipeline.preprocess import DIGIT_SIDE

TOWARD_GUESS = np.array([230, 159, 0], np.float32)  # orange (Okabe-Ito): colour-blind safe
TOWARD_RUNNER_UP = np.array([0, 114, 178], np.float32)  # blue (Okabe-Ito)
NEUTRAL_INK = np.full(3, 115.0, np.float32)  # gray: a stroke that pushed neither way
HEAT_SCALE = 6  # screen pixels per digit pixel: 168 px, the size Draw shows it at
PLACES = {  # (vertical, horizontal) third of the digit -> where, in words
    ("top", "left"): N_("the top left"),
    ("top", ""): N_("the top"),
    ("top", "right"): N_("the top right"),
    ("", "left"): N_("the left"),
    ("", ""): N_("the middle"),
    ("", "right"): N_("the right"),
    ("bottom", "left"): N_("the bottom left"),
    ("bottom", ""): N_("the bottom"),
    ("bottom", "right"): N_("the bottom right"),
}
NOWHERE = N_("no part of it")


@dataclass(frozen=True)
class Explanation:
    """Per-pixel push of a 28x28 digit: positive toward `guess`, negative toward
    `runner_up`, scaled so the strongest pixel is 1 (or -1); zero off the strokes."""

    guess: int
    runner_up: int
    guess_probability: float
    runner_up_probability: float
    push: np.ndarray

    def sentence(self) -> str:
        """How to read the map, in words a screen reader can say too: which digits, and
        where on the drawing each push is strongest (in the reader's language: a page's run)."""
        return _(
            "Orange marks the parts of your drawing that made the network say {guess} "
            "({guess_sure} sure; strongest at {guess_where}); blue the parts that pointed to "
            "{runner_up}, its second choice ({runner_up_sure}; strongest at {runner_up_where}).",
            guess=self.guess,
            guess_sure=percent(self.guess_probability),
            guess_where=_(_where(self.push > 0.3)),
            runner_up=self.runner_up,
            runner_up_sure=percent(self.runner_up_probability),
            runner_up_where=_(_where(self.push < -0.3)),
        )


def explain(prediction: Prediction) -> Explanation:
    """The explanation of a guess made with `explained=True` (tl_core.pipeline.predict
    computes the push in the same batch as the probabilities): the top digit against the
    second, the push smoothed and scaled to at most 1."""
    if prediction.push is None:
        raise ValueError("predict with explained=True to explain the guess")
    runner_up, guess = (int(i) for i in np.argsort(prediction.probabilities)[-2:])
    push = _smoothed(prediction.push)
    strongest = float(np.abs(push).max())
    push = push / strongest if strongest > 0 else push
    return Explanation(
        guess,
        runner_up,
        float(prediction.probabilities[guess]),
        float(prediction.probabilities[runner_up]),
        push.astype(np.float32),
    )


def heat_image(explanation: Explanation, digit: np.ndarray, scale: int = 1) -> np.ndarray:
    """The map as an RGB image, `scale` screen pixels per digit pixel: the drawing in gray
    on white, each stroke tinted orange or blue by how hard it pushed toward the guess or
    the runner-up. Draw sends it at 28x28 and the browser enlarges it (pixelated, at
    HEAT_SCALE): on every stroke of every student, encoding 36 times the pixels cost more
    than the map itself."""
    ink = digit.astype(np.float32)[..., np.newaxis] / 255.0
    push = explanation.push[..., np.newaxis]
    colour = np.where(push > 0, TOWARD_GUESS, TOWARD_RUNNER_UP)
    stroke = NEUTRAL_INK + (colour - NEUTRAL_INK) * np.abs(push)
    pixels = 255.0 * (1 - ink) + stroke * ink
    image = np.clip(pixels, 0, 255).astype(np.uint8)
    return image if scale == 1 else np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def _smoothed(push: np.ndarray) -> np.ndarray:
    """A 3x3 mean: single-pixel speckle of the gradient becomes readable patches."""
    padded = np.pad(push, 1)
    return (
        sum(
            padded[dy : dy + DIGIT_SIDE, dx : dx + DIGIT_SIDE] for dy in range(3) for dx in range(3)
        )
        / 9.0
    )


def _where(mask: np.ndarray) -> str:
    """Where in the digit a set of pixels lies, in words ("the top", "the bottom left"): the
    English message id, shown with `_()`."""
    if not mask.any():
        return NOWHERE
    rows, cols = np.nonzero(mask)
    third = DIGIT_SIDE / 3
    vertical = ("top", "", "bottom")[min(int(rows.mean() // third), 2)]
    horizontal = ("left", "", "right")[min(int(cols.mean() // third), 2)]
    return PLACES[vertical, horizontal]
