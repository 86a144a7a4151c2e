"""A lesson as one file: the model in use with its run record, and the class set.

A teacher prepares at home and opens the lesson in class, or carries it to next week, to
another computer or a restarted container: `save_lesson` writes a zip holding the run's
folder (`run/`: its record and `model.keras`), every drawing of the class set
(`drawings/`) and `manifest.json` (the format, its version, and the size and sha256 of
every other member). `open_lesson` checks the whole file before it writes anything: its
size, that it is a zip, the format and version, that every member is one the format names
(no path, nothing else), each member's size and checksum, that the run is complete and its
model is the file its record names, and that each drawing is a 28x28 PNG named as the class
set names them. A bad or foreign file is refused with one sentence and changes nothing.
Nothing in it is executed or unpickled: JSON, PNG, and a model loaded later with Keras's
safe mode, as every run's is.

The restored run gets a new name stamped now, so it is the newest complete run, the model
in use; the drawings join the class set (one already there is left as it is).
"""

import hashlib
import io
import json
import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from tl_core.errors import DigitLabError
from tl_core.files import write_atomic
from tl_core.i18n import Text
from tl_core.paths import digitlab_home
from tl_core.pipeline.handwriting import DIGIT_SHAPE, class_entries, handwriting_dir, parse_name
from tl_core.pipeline.runs import COMPLETE, RECORDED_FILES, Run, resolve_runs_dir

FORMAT, VERSION = "digit-lab-lesson", 1
SUFFIX = ".digitlab"
MANIFEST = "manifest.json"
RUN_FILES = ("status.json", *RECORDED_FILES)
MAX_LESSON_BYTES = 300 * 2**20  # a run's model is about 35 MB; 2,000 drawings about 1.5 MB
MAX_MEMBER_BYTES = 250 * 2**20
MAX_DRAWING_BYTES = 4096  # a 28x28 gray PNG is a few hundred bytes


class LessonError(DigitLabError):
    """A lesson file that cannot be opened, or a lesson that cannot be saved."""


@dataclass(frozen=True)
class LessonSummary:
    """What a lesson file holds, or what opening one restored."""

    run_name: str
    drawings: int
    skipped_drawings: int = 0  # already in the class set, so left as they were


NOT_A_LESSON = Text(
    "This is not a Digit Lab lesson file: choose a file saved by “Save this lesson”."
)
DAMAGED = Text("This lesson file is damaged (a part of it does not match): save it again.")


def lessons_dir() -> Path:
    """Where the app looks for lesson files to open (a lesson is larger than an upload may
    be): beside the runs and the class set."""
    return digitlab_home() / "lessons"


def lesson_files() -> list[Path]:
    """The lesson files in `lessons_dir`, newest first."""
    found = [path for path in lessons_dir().glob(f"*{SUFFIX}") if path.is_file()]
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def lesson_bytes(run: Run) -> bytes:
    """The lesson as bytes, for the app's download."""
    buffer = io.BytesIO()
    save_lesson(buffer, run)
    return buffer.getvalue()


def save_lesson(target: Path | BinaryIO, run: Run, folder: Path | None = None) -> LessonSummary:
    """Write the lesson: `run` (complete, the model in use) and the class set in `folder`."""
    if not run.is_complete:
        raise LessonError(Text("Run {name} is not complete: train again.", name=run.name))
    folder = folder or handwriting_dir()
    members = {f"run/{name}": run.path / name for name in RUN_FILES}
    members.update({f"drawings/{e.name}": folder / e.name for e in class_entries(folder)})
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run": run.name,
        "files": {},
    }
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, path in members.items():
            data = path.read_bytes()
            manifest["files"][member] = {"bytes": len(data), "sha256": _sha256(data)}
            archive.writestr(member, data)
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
    return LessonSummary(run.name, len(members) - len(RUN_FILES))


def open_lesson(
    source: Path | bytes, runs_dir: Path | None = None, folder: Path | None = None
) -> LessonSummary:
    """Check a lesson file whole, then restore its run (as the newest) and its drawings."""
    members = read_lesson(source)
    runs_dir = resolve_runs_dir(runs_dir)
    folder = folder or handwriting_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{_sha256(members['run/status.json'])[:4]}"  # as create_run names runs
    staging = runs_dir / f".lesson-{name}"
    staging.mkdir(parents=True, exist_ok=True)
    try:  # the run appears whole, by one rename of its folder
        for file in RUN_FILES:
            (staging / file).write_bytes(members[f"run/{file}"])
        staging.rename(runs_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    drawings = [member for member in members if member.startswith("drawings/")]
    skipped = 0
    for member in drawings:
        path = folder / member.removeprefix("drawings/")
        if path.exists():
            skipped += 1
            continue
        write_atomic(path, lambda handle, data=members[member]: handle.write(data))
    return LessonSummary(name, len(drawings) - skipped, skipped)


def read_lesson(source: Path | bytes) -> dict[str, bytes]:
    """Every member of a lesson file, checked (see the module docstring); LessonError with
    one sentence for anything else."""
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    if size > MAX_LESSON_BYTES:
        raise LessonError(
            Text(
                "This file is larger than a lesson can be ({megabytes} MB at most).",
                megabytes=MAX_LESSON_BYTES // 2**20,
            )
        )
    try:
        raw = source.read_bytes() if isinstance(source, Path) else source
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            manifest = _manifest(archive)
            return _checked_members(archive, manifest)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, TypeError, OSError):
        raise LessonError(NOT_A_LESSON) from None


def _manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The manifest, once its format and version are ones this app reads."""
    info = archive.getinfo(MANIFEST)
    if info.file_size > 1_000_000:
        raise LessonError(NOT_A_LESSON)
    manifest = json.loads(archive.read(info))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise LessonError(NOT_A_LESSON)
    if manifest.get("version") != VERSION:
        raise LessonError(
            Text(
                "This lesson was saved in format {version}, which this Digit Lab does not "
                "read (it reads format {ours}): open it with the version that saved it.",
                version=str(manifest.get("version")),
                ours=VERSION,
            )
        )
    if not isinstance(manifest.get("files"), dict):
        raise LessonError(NOT_A_LESSON)
    return manifest


def _checked_members(archive: zipfile.ZipFile, manifest: dict[str, Any]) -> dict[str, bytes]:
    """Each member the manifest lists, read no larger than it says and matching its sha256;
    any member it does not list, or of a name the format does not have, refuses the file."""
    listed: dict[str, Any] = manifest["files"]
    names = {info.filename for info in archive.infolist()} - {MANIFEST}
    if names != set(listed) or not all(_allowed(name) for name in names):
        raise LessonError(NOT_A_LESSON)
    if any(f"run/{file}" not in listed for file in RUN_FILES):
        raise LessonError(NOT_A_LESSON)
    members = {}
    for name, expected in listed.items():
        info = archive.getinfo(name)
        limit = MAX_DRAWING_BYTES if name.startswith("drawings/") else MAX_MEMBER_BYTES
        if info.file_size != expected["bytes"] or info.file_size > limit:
            raise LessonError(DAMAGED)
        data = archive.read(info)
        if len(data) != expected["bytes"] or _sha256(data) != expected["sha256"]:
            raise LessonError(DAMAGED)
        members[name] = data
    _check_run(members)
    for name, data in members.items():
        if name.startswith("drawings/"):
            _check_drawing(data)
    return members


def _allowed(name: str) -> bool:
    """A member the format names: a run file, or a drawing named as the class set names it."""
    if name.startswith("run/"):
        return name.removeprefix("run/") in RUN_FILES
    drawing = name.removeprefix("drawings/")
    return (
        name.startswith("drawings/")
        and re.fullmatch(r"[0-9a-z.-]+", drawing) is not None
        and parse_name(drawing) is not None
    )


def _check_run(members: dict[str, bytes]) -> None:
    """The run is complete, and its model and files are those its record names."""
    status = json.loads(members["run/status.json"])
    if not isinstance(status, dict) or status.get("state") != COMPLETE:
        raise LessonError(Text("The run in this lesson file is not complete: save it again."))
    model = members["run/model.keras"]
    if status.get("model_sha256") != _sha256(model) or status.get("model_bytes") != len(model):
        raise LessonError(DAMAGED)


def _check_drawing(data: bytes) -> None:
    """A class-set drawing: a PNG of one 28x28 digit."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG" or image.size != DIGIT_SHAPE[::-1]:
                raise LessonError(NOT_A_LESSON)
            np.asarray(image.convert("L"))
    except (OSError, ValueError):
        raise LessonError(NOT_A_LESSON) from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
