"""A 45-minute lesson through the app, for the Home page.

The steps follow what the pages really do; the one step whose length depends on the
machine (training) says how long the model in use took to make here, when there is one.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class LessonStep:
    minutes: int
    page: str  # the page file to open
    title: str
    show: str
    ask: str


def lesson_plan(last_training_s: float | None = None) -> list[LessonStep]:
    """The steps, in order; their minutes add up to 45."""
    training = (
        f"the model in use took {last_training_s:.0f} s to make on this server"
        if last_training_s is not None
        else "the Train page estimates how long it takes on this machine before it starts"
    )
    return [
        LessonStep(5, "pages/home.py", "The idea",
                   "The seven steps below: a photo network re-used for digits.",
                   "What might a network that knows photos already know about digits?"),
        LessonStep(5, "pages/data.py", "The data",
                   "MNIST digits, then the same digits rotated, slanted, shifted and zoomed.",
                   "Why train on digits that were turned and slanted on purpose?"),
        LessonStep(10, "pages/train.py", "Train it",
                   f"Start the quick run and watch the curves move ({training}).",
                   "Training accuracy climbs: why can validation accuracy stay lower?"),
        LessonStep(10, "pages/draw.py", "Everyone draws",
                   "Each student draws digits and taps “right” or “I meant…”.",
                   "Which digits fool it? Can you fool it on purpose?"),
        LessonStep(5, "pages/results.py", "Where it goes wrong",
                   "MNIST accuracy beside real people's digits (writers it never saw), "
                   "then the confusion matrix; click a cell to see the digits it mixed up.",
                   "Why does it read people worse than MNIST? Would a person make its mistakes?"),
        LessonStep(10, "pages/classroom.py", "Our handwriting",
                   "The class wall, then “Teach it our handwriting” (seconds): old and new "
                   "model on drawings it never trained on, and on MNIST.",
                   "It adapted to us: did it forget what it knew?"),
    ]  # fmt: skip


CURVE_NAMES = {
    "accuracy": "training accuracy",
    "val_accuracy": "validation accuracy",
    "loss": "training loss",
    "val_loss": "validation loss",
}


def curves_sentence(history: list[dict[str, float]], names: tuple[str, ...]) -> str:
    """A chart of training curves in words, its text alternative for a screen reader:
    where each curve started and where it ended."""
    first, last = history[0], history[-1]
    parts = [f"{CURVE_NAMES[name]} from {first[name]:.3f} to {last[name]:.3f}" for name in names]
    return f"Epochs {first['epoch']} to {last['epoch']}: " + "; ".join(parts) + "."
