"""Keep TensorFlow's native start-up log off a teacher's screen.

TensorFlow's C++ core writes lines such as `I0000 00:00:... port.cc:153] oneDNN custom
operations are on` and `E0000 ... failed call to cuInit` straight to the process's standard
error (file descriptor 2), before Python's logging or `TF_CPP_MIN_LOG_LEVEL` can stop them:
on a machine that never had a GPU, a teacher reads "error". `quiet_native_log` puts a filter
on descriptor 2 that drops exactly those lines (absl's log format) and passes everything
else, Python's own errors and tracebacks included, through unchanged.
"""

import atexit
import logging
import os
import re
import sys
import threading
from typing import BinaryIO

# absl's header, as in "I0000 00:00:1796119400.486901    4690 port.cc:153] ", and its starts
NATIVE_HEADER = re.compile(rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")
HEADER_START = re.compile(rb"[IWEF]\d{0,4}(?: [\d:.]*(?: +\d*(?: [^ \]]*)?)?)?$")
FIXED_STARTS = (  # whole native lines without absl's header
    b"WARNING: All log messages before absl::InitializeLog()",
    b"To enable the following instructions:",  # the second line of cpu_feature_guard's
)
LINE_ENDS = re.compile(rb"(?<=[\r\n])")  # split after each line end, keeping it
VERBOSE_ENV = "DIGITLAB_VERBOSE"  # set to 1 to see TensorFlow's native log again

_installed = threading.Lock()
_filter: threading.Thread | None = None


def is_native_log_line(line: bytes) -> bool:
    """Whether one line of standard error is TensorFlow's native (absl) log, not ours."""
    return NATIVE_HEADER.match(line) is not None or line.startswith(FIXED_STARTS)


def quiet_native_log(verbose: bool = False) -> bool:
    """Filter TensorFlow's native log lines out of this process's standard error.

    Call before TensorFlow is imported; the filter then lasts for the process, its child
    processes included (they inherit descriptor 2). Idempotent: Streamlit reruns the app's
    script, and only the first call installs. Returns whether a filter is in place.
    `verbose` (or DIGITLAB_VERBOSE=1) leaves standard error as it is.
    """
    global _filter
    if verbose or os.environ.get(VERBOSE_ENV) == "1":
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # what TensorFlow does let us silence
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # its Python warnings (retracing)
    with _installed:
        if _filter is None:
            _filter = _install()
    return True


def _install() -> threading.Thread:
    """Point descriptor 2 at a pipe whose reader forwards all but native log lines."""
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forward = threading.Thread(
        target=_forward,
        args=(read_end, os.fdopen(os.dup(original), "wb", buffering=0)),
        name="native-log-filter",
        daemon=True,
    )
    forward.start()
    atexit.register(_drain, forward, original)
    return forward


def _forward(source: int, target: BinaryIO) -> None:
    """Copy the pipe to the real standard error through a `LineFilter`."""
    line = LineFilter(target)
    while chunk := os.read(source, 65536):
        for piece in LINE_ENDS.split(chunk):
            line.feed(piece)


class LineFilter:
    """Drops native log lines from a byte stream fed in pieces that end at line ends.

    The start of a line is held only while it could still become a native log line; any
    other line is passed on at once, before its end arrives, so the CLI's progress bar
    (redrawn after a carriage return, never ended by a newline) still moves. A native line
    can also begin in the middle of such a line: from its header to the line's end is dropped.
    """

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.held = b""
        self.mode = "holding"  # or "passing" (the line is ours) or "dropping" (native)

    def feed(self, piece: bytes) -> None:
        """Take the next piece of the stream: a whole line, or a line's start or rest."""
        if self.mode == "passing":
            header = NATIVE_HEADER.search(piece)
            self.target.write(piece[: header.start()] if header else piece)
            self.mode = "dropping" if header else "passing"
        elif self.mode == "holding":
            self.held += piece
            if is_native_log_line(self.held):
                self.held, self.mode = b"", "dropping"
            elif not _may_become_native(self.held):
                self.target.write(self.held)
                self.held, self.mode = b"", "passing"
        if piece.endswith((b"\n", b"\r")):
            self.target.write(self.held)  # a whole line that only began like a native one
            self.held, self.mode = b"", "holding"


def _may_become_native(start: bytes) -> bool:
    """Whether the start of a line could still grow into a native log line."""
    if any(fixed.startswith(start[: len(fixed)]) for fixed in FIXED_STARTS):
        return True
    return HEADER_START.match(start) is not None


def _drain(forward: threading.Thread, original: int) -> None:
    """At exit, give descriptor 2 back and let the filter pass what is still in the pipe."""
    sys.stderr.flush()
    os.dup2(original, 2)  # closes the pipe's last writer in this process
    forward.join(timeout=2)
