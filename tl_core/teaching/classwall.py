"""The class wall: what the projector shows of the class's saved drawings.

Everything here comes from the drawings' file names (tl_core.pipeline.handwriting.Entry):
the digit each student meant and the guess the model made when it was drawn. So the wall
costs one folder listing per refresh, however many students draw, and only the newest few
dozen thumbnails are read from disk (each once).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tl_core.i18n import _, number
from tl_core.pipeline.handwriting import Entry

WALL_SIZE = 36  # thumbnails on the wall: the newest drawings


@dataclass(frozen=True)
class WallSummary:
    """The class's drawings that have a recorded guess, counted."""

    drawings: int
    right: int
    confusion: np.ndarray  # (10, 10): rows the digit meant, columns the guess

    @property
    def sentence(self) -> str:
        """The counts in a sentence, in the reader's language (a page's run)."""
        if not self.drawings:
            return _("No drawings yet: on Draw, a student taps “right” or “I meant…”.")
        return _(
            "The model read {right} of our {drawings} drawings right.",
            right=number(self.right),
            drawings=number(self.drawings),
        )

    def per_digit(self) -> pd.DataFrame:
        """Per digit meant: how many drawings, how many read right, the accuracy (or NaN)."""
        drawn = self.confusion.sum(axis=1)
        right = np.diag(self.confusion)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = np.where(drawn > 0, right / np.maximum(drawn, 1), np.nan)
        return pd.DataFrame(
            {"digit": [str(d) for d in range(10)], "drawings": drawn, "right": right,
             "accuracy": accuracy}
        )  # fmt: skip

    def confusions(self) -> pd.DataFrame:
        """Every (meant, guess) pair with at least one drawing: the confusion matrix as rows,
        for a heatmap."""
        meant, guess = np.nonzero(self.confusion)
        return pd.DataFrame(
            {"meant": meant.astype(str), "guess": guess.astype(str),
             "drawings": self.confusion[meant, guess]}
        )  # fmt: skip

    def most_confused(self, top: int = 3) -> list[tuple[int, int, int]]:
        """The wrong readings seen most often: (meant, guess, drawings), commonest first."""
        off = self.confusion * (1 - np.eye(10, dtype=int))
        order = np.argsort(off, axis=None)[::-1][:top]
        pairs = [(int(i // 10), int(i % 10), int(off.flat[i])) for i in order]
        return [pair for pair in pairs if pair[2] > 0]


def summarise(entries: list[Entry]) -> WallSummary:
    """Count the entries that have a guess (drawings saved before guesses were recorded
    have none, and are left out of the counts)."""
    confusion = np.zeros((10, 10), int)
    for entry in entries:
        if entry.guess is not None:
            confusion[entry.label, entry.guess] += 1
    return WallSummary(int(confusion.sum()), int(np.trace(confusion)), confusion)


def in_cell(entries: list[Entry], meant: int, guess: int) -> list[Entry]:
    """The drawings meant as `meant` that the model read as `guess` (a confusion cell)."""
    return [entry for entry in entries if entry.label == meant and entry.guess == guess]
