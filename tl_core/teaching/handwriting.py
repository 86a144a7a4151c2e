"""The class handwriting set: digits students drew and labelled, kept on the server.

MNIST was written by American census workers and students in the 1990s; a class writes its
own 4s and 7s. Saving a few drawings (opt-in, on the Draw page) lets the Results page show
accuracy on "our handwriting" beside MNIST, and the Train page add them to the training data.
A run that adds them trains on three in four and never on the rest (`split_held_out`), and
records the names it trained on, so "our handwriting" is only ever measured on drawings the
model has not seen.

Each drawing is one 28x28 PNG named `<label>-<time>-<random>.png` in the set's folder, so the
set survives a restart and needs no index that could disagree with the files. A file that
cannot be read back is skipped with a warning, never used.
"""

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tl_core.errors import ImageError
from tl_core.files import write_atomic
from tl_core.paths import digitlab_home
from tl_core.pipeline.data import MnistData

log = logging.getLogger(__name__)
DIGIT_SHAPE = (28, 28)
HELD_OUT_EVERY = 4  # one drawing in four is never trained on


@dataclass(frozen=True)
class Handwriting:
    """The saved drawings as MNIST-style arrays: uint8 (N, 28, 28), labels (N,) and the
    file name of each, which identifies a drawing across runs."""

    x: np.ndarray
    y: np.ndarray
    names: tuple[str, ...] = ()
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.y)

    def only(self, keep: np.ndarray) -> "Handwriting":
        """The drawings where the boolean mask `keep` is true."""
        names = tuple(name for name, kept in zip(self.names, keep, strict=True) if kept)
        return Handwriting(self.x[keep], self.y[keep], names, self.skipped)

    def without(self, names: set[str] | list[str]) -> "Handwriting":
        """The drawings not named in `names` (those a run did not train on)."""
        return self.only(np.array([name not in set(names) for name in self.names], bool))


def split_held_out(handwriting: Handwriting) -> tuple[Handwriting, Handwriting]:
    """(to train on, held out): one drawing in four is held out, chosen by a hash of its
    name, so the same drawing always falls on the same side. The drawing with the lowest
    hash is always held out (so a single drawing is never trained on), and from two
    drawings on, the one with the highest hash is always trained on."""
    hashes = np.array(
        [int.from_bytes(hashlib.sha256(name.encode()).digest()[:4]) for name in handwriting.names],
        np.int64,
    )
    held = hashes % HELD_OUT_EVERY == 0
    if len(hashes) >= 1:
        held[np.argmin(hashes)] = True
    if len(hashes) >= 2:
        held[np.argmax(hashes)] = False
    return handwriting.only(~held), handwriting.only(held)


def handwriting_dir() -> Path:
    """Where the class's drawings are kept, beside the runs."""
    return digitlab_home() / "handwriting"


def save_drawing(digit: np.ndarray, label: int, folder: Path | None = None) -> Path:
    """Store one prepared digit (uint8 28x28, as `digit_from_image` returns) with its label."""
    if digit.shape != DIGIT_SHAPE or digit.dtype != np.uint8:
        raise ImageError(f"A saved drawing must be a 28x28 digit, not {digit.shape}.")
    if not 0 <= int(label) <= 9:
        raise ImageError(f"label={label!r} is not allowed: use a digit from 0 to 9.")
    folder = folder or handwriting_dir()
    path = folder / f"{int(label)}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.png"
    write_atomic(path, lambda handle: Image.fromarray(digit).save(handle, "PNG"))
    return path


def load_handwriting(folder: Path | None = None) -> Handwriting:
    """Every saved drawing that reads back as a labelled 28x28 digit; others are skipped."""
    folder = folder or handwriting_dir()
    digits, labels, names, skipped = [], [], [], 0
    for path in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        try:
            label = int(path.name.split("-", 1)[0])
            with Image.open(path) as image:
                digit = np.asarray(image.convert("L"))
            if digit.shape != DIGIT_SHAPE or not 0 <= label <= 9:
                raise ValueError(f"not a labelled 28x28 digit: {digit.shape}, {label}")
        except (OSError, ValueError, UnidentifiedImageError) as error:
            log.warning("Skipping the damaged handwriting file %s (%s).", path.name, error)
            skipped += 1
            continue
        digits.append(digit)
        labels.append(label)
        names.append(path.name)
    x = np.stack(digits) if digits else np.zeros((0, *DIGIT_SHAPE), np.uint8)
    return Handwriting(x, np.array(labels, np.int64), tuple(names), skipped)


def clear_handwriting(folder: Path | None = None) -> int:
    """Delete every saved drawing; returns how many there were."""
    folder = folder or handwriting_dir()
    files = list(folder.glob("*.png")) if folder.is_dir() else []
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def add_handwriting(data: MnistData, handwriting: Handwriting) -> MnistData:
    """The training digits with the class's drawings added (the test set stays MNIST's)."""
    return replace(
        data,
        x_train=np.concatenate([data.x_train, handwriting.x]),
        y_train=np.concatenate([data.y_train, handwriting.y]),
    )
