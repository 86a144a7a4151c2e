"""Atomic file writes: write beside the target, flush to disk, then rename over it.

A reader sees the old file or the new one, never half of one, even if the process is killed
or the disk fills up in the middle.
"""

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it replaces `target`.

    `suffix` matters for writers that check extensions (Keras wants ".keras").
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb+") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes files private; runs are shared
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomic(target: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call `write(handle)` on a binary file that becomes `target` only once complete."""
    with atomic_path(target) as temporary, temporary.open("wb") as handle:
        write(handle)


def write_json(target: Path, value: Any) -> None:
    """Write JSON atomically, readable by people (indented, sorted keys)."""
    text = json.dumps(value, indent=2, sort_keys=True).encode()
    write_atomic(target, lambda handle: handle.write(text))


def read_json(path: Path) -> Any:
    """Read JSON; raises OSError or ValueError for a missing or damaged file."""
    return json.loads(path.read_text())


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """The hex digest of a file, read in chunks (weights files are 58 MB)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()
