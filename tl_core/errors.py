"""Errors a user can cause, each carrying one short paragraph that says what to do next.

The CLI and the app print `str(error)` as it is, never a traceback, so every message must
make sense to a student on its own.
"""


class DigitLabError(Exception):
    """Base class: a problem the user can fix, with a message written for them."""


class ConfigError(DigitLabError):
    """A configuration value is out of range; the message names the value and the range."""


class DataUnavailable(DigitLabError):
    """No MNIST source could be read."""


class WeightsUnavailable(DigitLabError):
    """The VGG16 weights asked for (ImageNet's, the edge-detection ones or a file) could not
    be found, downloaded or read."""


class ImageError(DigitLabError):
    """An image (upload or file) cannot be read or is too large."""


class NoDigitFound(DigitLabError):
    """An image holds nothing that looks like a digit (empty, a dot, all ink)."""


class PredictionFailed(DigitLabError):
    """The model could not answer a drawing (its worker failed); the next drawing is tried
    afresh."""


class ClassSetFull(DigitLabError):
    """The class set holds as many drawings as it may; the teacher can start a new one."""


class RunError(DigitLabError):
    """A run folder is missing, incomplete or damaged."""


class TrainingStopped(DigitLabError):
    """Training ended early because someone asked it to stop."""


class NotAllowed(DigitLabError):
    """This session may not do that (a teacher passcode is set and was not given)."""


def message_of(error: BaseException) -> str:
    """The message an error was raised with, as it was made: a `Text` stays one, so it is
    read in each reader's language (`str(error)` would fix it in this thread's)."""
    from tl_core.i18n import Text

    if len(error.args) == 1 and isinstance(error.args[0], Text):
        return error.args[0]
    return str(error)
