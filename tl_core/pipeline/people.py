"""Real people's handwriting: the yardstick a class's drawings are judged by.

MNIST test digits and digits this project draws itself overstate how a class's drawings are
read. These are 7,494 digits written with a stylus on a tablet by 30 people, about 250 each,
from the UCI "Pen-Based Recognition of Handwritten Digits" data set (E. Alpaydin and F.
Alimoglu, Bogazici University, 1998; CC BY 4.0). Each pen trajectory was drawn the way the
app's canvas draws (white on a black 280x280 canvas, a round 23 px pen, anti-aliased), then
prepared by `images.digit_from_image` exactly as a drawing on the Draw page; the 28x28
results ship beside this file (`people.npz`, 1.4 MB), with each digit's writer.

Split by writer, never by digit: a writer whose digits a run trained on says nothing about
a new class. Writers 1-20 may be trained on (`TrainConfig.include_people`); writers 21-30
never are, and every run is scored on them.
"""

import sys
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np

from tl_core.files import write_atomic
from tl_core.i18n import N_
from tl_core.pipeline.data import MnistData, stratified_subset
from tl_core.pipeline.images import digit_from_image

PEOPLE_FILE = Path(__file__).with_name("people.npz")
TRAIN_WRITERS = range(1, 21)
TEST_WRITERS = range(21, 31)
CREDIT = N_(
    "Real people's digits: UCI Pen-Based Recognition of Handwritten Digits (E. Alpaydin and "
    "F. Alimoglu, 1998; CC BY 4.0)"
)


@dataclass(frozen=True)
class PeopleDigits:
    """Prepared digits uint8 (N, 28, 28), their labels (N,) and writers 1-30 (N,)."""

    x: np.ndarray
    y: np.ndarray
    writer: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def of_writers(self, writers: range) -> "PeopleDigits":
        rows = np.isin(self.writer, list(writers))
        return PeopleDigits(self.x[rows], self.y[rows], self.writer[rows])


@cache
def people_digits() -> PeopleDigits:
    """All 30 writers' digits, read once per process (read-only arrays)."""
    with np.load(PEOPLE_FILE, allow_pickle=False) as arrays:
        x, y, writer = arrays["x"], arrays["y"].astype(np.int64), arrays["writer"]
    for array in (x, y, writer):
        array.setflags(write=False)
    return PeopleDigits(x, y, writer.astype(np.int64))


@cache
def people_test_set(per_class: int | None = None, seed: int = 0) -> PeopleDigits:
    """The writers no run trains on: all their digits, or `per_class` of each, seeded.

    Drawn once per setting and process (read-only arrays), so a run's scored images and
    the labels it scores them against are one object, however many places ask.
    """
    held_out = people_digits().of_writers(TEST_WRITERS)
    if per_class:  # None or 0: all, as take_budget reads a budget
        x, y = stratified_subset(held_out.x, held_out.y, per_class, seed)
        held_out = PeopleDigits(x, y, np.zeros_like(y))  # writers are not needed once drawn
    for array in (held_out.x, held_out.y, held_out.writer):
        array.setflags(write=False)
    return held_out


def add_people(data: MnistData) -> MnistData:
    """The training digits with the training writers' digits added (the test set stays)."""
    people = people_digits().of_writers(TRAIN_WRITERS)
    return replace(
        data,
        x_train=np.concatenate([data.x_train, people.x]),
        y_train=np.concatenate([data.y_train, people.y]),
    )


def build_people_file(source: Path, target: Path = PEOPLE_FILE) -> int:
    """Prepare every canvas image of the shared `pendigits-train.npz` as the Draw page would,
    and write them with their labels and writers to `target`; returns how many."""
    with np.load(source, allow_pickle=False) as arrays:
        images, labels, writers = arrays["images"], arrays["labels"], arrays["writer"]
    x = np.stack([digit_from_image(image, drawing=True) for image in images])
    write_atomic(
        target,
        lambda handle: np.savez_compressed(
            handle, x=x, y=labels.astype(np.uint8), writer=writers.astype(np.uint8)
        ),
    )
    return len(x)


if __name__ == "__main__":  # python -m tl_core.pipeline.people ../shared/data/pendigits-train.npz
    print(f"{build_people_file(Path(sys.argv[1]))} digits written to {PEOPLE_FILE}")
