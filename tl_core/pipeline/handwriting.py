"""The class handwriting set: digits students drew and labelled, kept on the server.

MNIST was written by American census workers and students in the 1990s; a class writes its
own 4s and 7s. Saving a few drawings (opt-in, on the Draw page) lets the Results page show
accuracy on "our handwriting" beside MNIST, and the Train page add them to the training data.
A run that adds them trains on three in four and never on the rest (`split_held_out`), and
records the names it trained on, so "our handwriting" is only ever measured on drawings the
model has not seen.

Each drawing is one 28x28 PNG named `<label>-<date>-<time>-<random>-g<guess>-<percent>.png`
in the set's folder: the digit the student meant, when it was saved (UTC, to the
microsecond), a random token, and the guess and confidence of the model in use when it was
drawn. The set survives a restart, needs no index that could disagree with the files, and
the class wall reads its counts from the names alone. Nothing else is stored: no name, no
address, no session. A file that cannot be read back is skipped with a warning, never
used.

The set belongs to the class: it holds at most CLASS_SET_CAP drawings, and a full set
refuses more rather than dropping the class's oldest (one student's flood would otherwise
push out everyone's drawings). Drawings older than RETENTION_DAYS are deleted, and the
teacher ends a lesson with `start_new_class_set`, which puts the drawings aside (in the
archive folder, never shown or trained on, deleted after the same period) or deletes them.
"""

import functools
import hashlib
import logging
import os
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tl_core.errors import ClassSetFull, ImageError
from tl_core.files import write_atomic
from tl_core.i18n import Text, _, percent
from tl_core.paths import digitlab_home
from tl_core.pipeline.data import MnistData

log = logging.getLogger(__name__)
DIGIT_SHAPE = (28, 28)
HELD_OUT_EVERY = 4  # one drawing in four is never trained on
CLASS_SET_CAP = 2000  # drawings the set holds; a full set takes no more
RETENTION_DAYS = 30  # a drawing, kept or put aside, is deleted after this


@dataclass(frozen=True)
class Entry:
    """One saved drawing as its file name tells it, without reading the image."""

    name: str
    label: int  # the digit the student meant
    saved: str  # "YYYYmmddHHMMSSffffff" (to the microsecond), so entries sort by age
    guess: int | None = None  # the model's guess when it was drawn (older files: None)
    confidence: float | None = None

    @property
    def is_right(self) -> bool | None:
        return None if self.guess is None else self.guess == self.label

    def sentence(self) -> str:
        """The drawing in words, the wall's text alternative for its image."""
        if self.guess is None:
            return _("A drawing of a {digit}.", digit=self.label)
        shown = {"digit": self.label, "guess": self.guess}
        if self.confidence is None:
            if self.is_right:
                return _("A drawing of a {digit}, read as {guess}: right.", **shown)
            return _("A drawing of a {digit}, read as {guess}: wrong.", **shown)
        sure = percent(self.confidence)
        if self.is_right:
            return _(
                "A drawing of a {digit}, read as {guess}, {sure} sure: right.", sure=sure, **shown
            )
        return _("A drawing of a {digit}, read as {guess}, {sure} sure: wrong.", sure=sure, **shown)


def parse_name(name: str) -> Entry | None:
    """The entry a file name describes, or None for a name that is not a saved drawing."""
    parts = name.removesuffix(".png").split("-")
    try:
        label, saved = int(parts[0]), parts[1] + parts[2]
        guess = confidence = None
        if len(parts) >= 6 and parts[4].startswith("g"):
            guess, confidence = int(parts[4][1:]), int(parts[5]) / 100
    except (IndexError, ValueError):
        return None
    if not name.endswith(".png") or not 0 <= label <= 9 or guess not in (None, *range(10)):
        return None
    return Entry(name, label, saved, guess, confidence)


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


def save_drawing(
    digit: np.ndarray,
    label: int,
    folder: Path | None = None,
    guess: int | None = None,
    confidence: float | None = None,
) -> Path:
    """Store one prepared digit (uint8 28x28, as `digit_from_image` returns) with the digit
    the student meant and, when given, the model's guess. Raises ClassSetFull when the set
    already holds CLASS_SET_CAP drawings."""
    if digit.shape != DIGIT_SHAPE or digit.dtype != np.uint8:
        raise ImageError(
            Text("A saved drawing must be a 28x28 digit, not {shape}.", shape=str(digit.shape))
        )
    if not 0 <= int(label) <= 9:
        raise ImageError(
            Text("label={label} is not allowed: use a digit from 0 to 9.", label=repr(label))
        )
    folder = folder or handwriting_dir()
    if len(class_entries(folder)) >= CLASS_SET_CAP:
        raise ClassSetFull(
            Text(
                "The class set is full ({cap} drawings): the teacher can start a new class set "
                "on the Class page.",
                cap=CLASS_SET_CAP,
            )
        )
    now = time.time_ns()  # UTC, so the order by age holds when the clocks change
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now / 1e9)) + f"{now // 1000 % 10**6:06d}"
    name = f"{int(label)}-{stamp}-{secrets.token_hex(3)}"
    if guess is not None:
        name += f"-g{int(guess)}-{round(100 * float(confidence or 0)):03d}"
    path = folder / f"{name}.png"
    write_atomic(path, lambda handle: Image.fromarray(digit).save(handle, "PNG"))
    return path


def expire_drawings(folder: Path | None = None, now: float | None = None) -> int:
    """Delete the drawings, in the set and put aside, saved more than RETENTION_DAYS ago;
    returns how many. The server does it when it starts and when the set changes."""
    folder = folder or handwriting_dir()
    oldest_kept = time.strftime(
        "%Y%m%d%H%M%S", time.gmtime((now or time.time()) - RETENTION_DAYS * 86400)
    )
    removed = 0
    for place in (folder, *sorted(archive_dir(folder).glob("*"))):
        for entry in class_entries(place):
            if entry.saved[:14] < oldest_kept:
                (place / entry.name).unlink(missing_ok=True)
                removed += 1
        if place != folder and place.is_dir() and not any(place.iterdir()):
            place.rmdir()
    return removed


def remove_half_written(folder: Path | None = None) -> int:
    """Delete the temporary files a save killed halfway left (`.<name>.png.<random>`, from
    tl_core.files.write_atomic); returns how many. The server does it when it starts, as
    it marks a killed run interrupted: no saved drawing is ever half a file."""
    folder = folder or handwriting_dir()
    leftovers = [path for path in folder.glob(".*.png.*") if path.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


def archive_dir(folder: Path | None = None) -> Path:
    """Where `start_new_class_set` puts a set aside: one folder per set, beside the set."""
    folder = folder or handwriting_dir()
    return folder.parent / f"{folder.name}-put-aside"


def start_new_class_set(keep: bool, folder: Path | None = None) -> int:
    """End the current class set: its drawings are put aside (`keep`: moved into a new
    folder of `archive_dir`, named by the time, never shown or trained on) or deleted.
    Returns how many drawings it held."""
    folder = folder or handwriting_dir()
    entries = class_entries(folder)
    if keep and entries:
        aside = archive_dir(folder) / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        aside.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            (folder / entry.name).rename(aside / entry.name)
    else:
        for entry in entries:
            (folder / entry.name).unlink(missing_ok=True)
    return len(entries)


def class_entries(folder: Path | None = None) -> list[Entry]:
    """Every saved drawing's entry, newest first, from the folder listing alone (cheap: the
    class wall calls it every few seconds)."""
    folder = folder or handwriting_dir()
    if not folder.is_dir():
        return []
    entries = [parse_name(item.name) for item in os.scandir(folder) if item.is_file()]
    return sorted((e for e in entries if e is not None), key=lambda e: e.saved, reverse=True)


@functools.lru_cache(maxsize=CLASS_SET_CAP)
def read_digit(path: Path) -> np.ndarray | None:
    """One saved drawing's 28x28 digit, or None (with a warning) if it can't be read.
    Cached (the whole set is 1.5 MB): a saved file never changes (its name is unique), so
    the wall and every load of the set read each file once."""
    try:
        with Image.open(path) as image:
            digit = np.asarray(image.convert("L"))
        if digit.shape != DIGIT_SHAPE:
            raise ValueError(f"not a 28x28 digit: {digit.shape}")
    except (OSError, ValueError, UnidentifiedImageError) as error:
        log.warning("Skipping the damaged handwriting file %s (%s).", path.name, error)
        return None
    return digit


def remove_drawing(name: str, folder: Path | None = None) -> bool:
    """Delete one saved drawing (a scribble, a joke); False if it was not there."""
    entry = parse_name(Path(name).name)  # a bare file name of the set, never a path
    path = (folder or handwriting_dir()) / name
    if entry is None or entry.name != name or not path.is_file():
        return False
    path.unlink(missing_ok=True)
    return True


def not_trained_on(trained: list[str] | tuple[str, ...], folder: Path | None = None) -> list[str]:
    """The names of the class set's drawings that a model did not train on (`trained`: the
    names its run records), newest first: what "our handwriting" is measured on, and what
    "Teach it our handwriting" would learn from."""
    seen = set(trained)
    return [entry.name for entry in class_entries(folder) if entry.name not in seen]


def load_handwriting(folder: Path | None = None) -> Handwriting:
    """Every saved drawing that reads back as a labelled 28x28 digit; others are skipped."""
    folder = folder or handwriting_dir()
    digits, labels, names, skipped = [], [], [], 0
    for entry in sorted(class_entries(folder), key=lambda e: e.name):
        digit = read_digit(folder / entry.name)
        if digit is None:
            skipped += 1
            continue
        digits.append(digit)
        labels.append(entry.label)
        names.append(entry.name)
    x = np.stack(digits) if digits else np.zeros((0, *DIGIT_SHAPE), np.uint8)
    return Handwriting(x, np.array(labels, np.int64), tuple(names), skipped)


def add_handwriting(data: MnistData, handwriting: Handwriting) -> MnistData:
    """The training digits with the class's drawings added (the test set stays MNIST's)."""
    return replace(
        data,
        x_train=np.concatenate([data.x_train, handwriting.x]),
        y_train=np.concatenate([data.y_train, handwriting.y]),
    )
