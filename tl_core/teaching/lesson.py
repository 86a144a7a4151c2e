"""A 45-minute lesson through the app, for the Home page.

The steps follow what the pages really do; the one step whose length depends on the
machine (training) says how long the model in use took to make here, when there is one.
"""

from dataclasses import dataclass

from tl_core.i18n import N_, _, number


@dataclass(frozen=True)
class LessonStep:
    minutes: int
    page: str  # the page file to open
    title: str
    show: str
    ask: str


def lesson_plan(last_training_s: float | None = None) -> list[LessonStep]:
    """The steps, in order, in the reader's language (call it in a page's run); their
    minutes add up to 45."""
    train = (
        _(
            "Start the quick run and watch the curves move (the model in use took {seconds} s "
            "to make on this server).",
            seconds=number(last_training_s),
        )
        if last_training_s is not None
        else _(
            "Start the quick run and watch the curves move (the Train page estimates how long "
            "it takes on this machine before it starts)."
        )
    )
    return [
        LessonStep(5, "pages/home.py", _("The idea"),
                   _("The seven steps below: a photo network re-used for digits."),
                   _("What might a network that knows photos already know about digits?")),
        LessonStep(5, "pages/data.py", _("The data"),
                   _("MNIST digits, then the same digits rotated, slanted, shifted and zoomed."),
                   _("Why train on digits that were turned and slanted on purpose?")),
        LessonStep(10, "pages/train.py", _("Train it"), train,
                   _("Training accuracy climbs: why can validation accuracy stay lower?")),
        LessonStep(10, "pages/draw.py", _("Everyone draws"),
                   _("Each student draws digits and taps “right” or “I meant…”."),
                   _("Which digits fool it? Can you fool it on purpose?")),
        LessonStep(5, "pages/results.py", _("Where it goes wrong"),
                   _("MNIST accuracy beside real people's digits (writers it never saw), "
                     "then the confusion matrix; click a cell to see the digits it mixed up."),
                   _("Why does it read people worse than MNIST? Would a person make its "
                     "mistakes?")),
        LessonStep(10, "pages/classroom.py", _("Our handwriting"),
                   _("The class wall, then “Teach it our handwriting” (seconds): old and new "
                     "model on drawings it never trained on, and on MNIST."),
                   _("It adapted to us: did it forget what it knew?")),
    ]  # fmt: skip


CURVE_NAMES = {  # shown as `_(CURVE_NAMES[name])`
    "accuracy": N_("training accuracy"),
    "val_accuracy": N_("validation accuracy"),
    "loss": N_("training loss"),
    "val_loss": N_("validation loss"),
    "wrong": N_("training: wrong per 100"),
    "val_wrong": N_("validation: wrong per 100"),
}


def with_wrong_per_100(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """Each epoch's row with "wrong" and "val_wrong": digits read wrong per 100. With a
    pretrained base the accuracy is above 0.9 from the first epoch, two flat lines at the top
    of a 0-to-1 axis; 8 wrong falling to 2, and the gap between training and validation,
    are what a class can see move."""
    return [
        {
            **row,
            "wrong": round(100 * (1 - row["accuracy"]), 2),
            "val_wrong": round(100 * (1 - row["val_accuracy"]), 2),
        }
        for row in history
        if "accuracy" in row and "val_accuracy" in row
    ]


def curves_sentence(history: list[dict[str, float]], names: tuple[str, ...]) -> str:
    """A chart of training curves in words, its text alternative for a screen reader:
    where each curve started and where it ended (in the reader's language: a page's run)."""
    first, last = history[0], history[-1]
    parts = "; ".join(
        _(
            "{curve} from {start} to {end}",
            curve=_(CURVE_NAMES[name]),
            start=number(first[name], 3),
            end=number(last[name], 3),
        )
        for name in names
    )
    return _(
        "Epochs {first} to {last}: {curves}.",
        first=first["epoch"],
        last=last["epoch"],
        curves=parts,
    )
