"""A quiet first run: TensorFlow's native log stays off the CLI's standard error."""

import io
import os
import subprocess
import sys
from pathlib import Path

from tl_core.quiet import VERBOSE_ENV, LineFilter, is_native_log_line

ROOT = Path(__file__).resolve().parents[1]
ONEDNN = b"I0000 00:00:1796119252.074584    4037 port.cc:153] oneDNN custom operations are on.\n"
CUINIT = (
    b"E0000 00:00:1796119400.486901    4690 cuda_platform.cc:52] failed call to cuInit: "
    b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)


def filtered(*pieces: bytes) -> bytes:
    """What reaches the terminal when these pieces are written to standard error."""
    out = io.BytesIO()
    line = LineFilter(out)
    for piece in pieces:
        line.feed(piece)
    return out.getvalue()


def test_native_lines_are_recognised_and_ours_are_not() -> None:
    assert is_native_log_line(ONEDNN) and is_native_log_line(CUINIT)
    assert is_native_log_line(b"WARNING: All log messages before absl::InitializeLog() is ...\n")
    assert not is_native_log_line(b"error: the run folder is not writable\n")
    assert not is_native_log_line(b"I0 is a name\n")
    assert not is_native_log_line(b'  File "x.py", line 3, in <module>\n')


def test_the_filter_drops_native_lines_and_keeps_ours_whole() -> None:
    ours = b"error: no such run: 'latest'\n"
    assert filtered(ONEDNN, ours, CUINIT, b"Traceback (most recent call last):\n") == (
        ours + b"Traceback (most recent call last):\n"
    )
    assert filtered(b"I0 is a name\n") == b"I0 is a name\n"  # began like a native line


def test_a_progress_bar_passes_before_its_line_ends_and_survives_a_native_line() -> None:
    out = io.BytesIO()
    line = LineFilter(out)
    line.feed(b"\r")
    line.feed(b" features [##----] 64/950")
    assert out.getvalue() == b"\r features [##----] 64/950"  # shown now, not at the line's end
    line.feed(CUINIT)  # TensorFlow writes in the middle of the bar's line
    line.feed(b"\r")
    line.feed(b" features [####--] 128/950\n")
    assert out.getvalue() == b"\r features [##----] 64/950\r features [####--] 128/950\n"


def run_python(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}  # as a teacher's shell has it
    env.pop(VERBOSE_ENV, None)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, timeout=120, check=False
    )


LOAD_TENSORFLOW = """
import sys
from tl_core.quiet import quiet_native_log
quiet_native_log()
import tensorflow as tf
tf.constant(1.0) + 1.0  # TensorFlow's runtime starts: more native lines where a machine has them
print("ours", file=sys.stderr)
"""


def test_tensorflow_loads_without_a_native_line() -> None:
    """The real TensorFlow through the real filter (the lines it writes unfiltered are those
    the tests above use: ONEDNN and CUINIT were copied from this machine's output)."""
    loaded = run_python("-c", LOAD_TENSORFLOW)
    assert loaded.returncode == 0, loaded.stderr.decode()
    assert loaded.stderr == b"ours\n", loaded.stderr.decode()


def test_info_prints_no_log_line_before_its_own_output() -> None:
    info = run_python("-m", "tl_core", "info")
    assert info.returncode == 0, info.stderr
    assert info.stderr == b"", info.stderr.decode()
    assert info.stdout.startswith(b"MNIST:")
