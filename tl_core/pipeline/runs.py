"""Runs on disk: one folder per training run, complete only when everything is saved.

A run folder holds `config.json`, `status.json`, `history.json` (one row per epoch),
`metrics.json` (clean and augmented test accuracy, confusion matrix) and `model.keras`
(base + head, so prediction needs no feature cache). Every file is written atomically and
`status.json` says "complete" only after the model and metrics are in place, with the size
and sha256 of every file recorded; a run stopped or killed halfway therefore never looks
complete, and a file altered afterwards makes the run "damaged", never silently used.

A running run records the process that trains it; when that process is gone (the server was
killed), `recover_interrupted` marks the run "interrupted" and removes its half-written files.
"""

import errno
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tl_core.config import TrainConfig
from tl_core.errors import RunError
from tl_core.files import atomic_path, file_digest, read_json, write_json
from tl_core.i18n import N_, Text
from tl_core.paths import default_runs_dir

if TYPE_CHECKING:  # Keras loads only with a model: listing runs (Home) needs no TensorFlow
    import keras

MODEL_FILE = "model.keras"
RECORDED_FILES = ("config.json", "history.json", "metrics.json", MODEL_FILE)
RUNNING, STOPPED, FAILED, COMPLETE = "running", "stopped", "failed", "complete"
INTERRUPTED, DAMAGED = "interrupted", "damaged"
STATE_NAMES = {  # a run's state as a reader sees it, in their language
    RUNNING: N_("running"),
    STOPPED: N_("stopped"),
    FAILED: N_("failed"),
    COMPLETE: N_("complete"),
}
REQUIRED_METRICS = ("test_accuracy", "test_accuracy_augmented")
PROCESS_TOKEN = secrets.token_hex(8)  # tells this process from a later one with the same pid


@dataclass
class Run:
    """A run folder as read from disk."""

    path: Path
    config: TrainConfig
    status: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        return self.status.get("state", FAILED)

    @property
    def model_key(self) -> tuple[str, str]:
        """Names this run's model wherever a loaded copy is kept: its folder and the model
        file's checksum (a changed file is a new key)."""
        return str(self.path), self.status.get("model_sha256", "")

    @property
    def is_complete(self) -> bool:
        """Marked complete, and its metrics hold the numbers every page shows."""
        return (
            self.state == COMPLETE
            and isinstance(self.metrics, dict)
            and all(isinstance(self.metrics.get(key), int | float) for key in REQUIRED_METRICS)
        )

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE


def resolve_runs_dir(runs_dir: str | Path | None) -> Path:
    """The runs folder the user named, else the default one the app uses too."""
    return Path(runs_dir).expanduser() if runs_dir else default_runs_dir()


def create_run(runs_dir: Path, config: TrainConfig, info: dict[str, Any]) -> Path:
    """Make a new run folder in state "running", named by time so runs sort by age.

    Raises RunError with what to do when the runs folder cannot be written.
    """
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    path = runs_dir / name
    try:
        path.mkdir(parents=True)
        write_json(path / "config.json", config.to_dict())
        set_state(path, RUNNING, pid=os.getpid(), process=PROCESS_TOKEN, **info)
    except OSError as error:
        raise RunError(
            Text(
                "Cannot write a run into {folder} ({error}). Free some disk space, or set "
                "DIGITLAB_HOME to a folder you can write to.",
                folder=str(runs_dir),
                error=str(error.strerror or error),
            )
        ) from error
    return path


def set_state(path: Path, state: str, **details: Any) -> None:
    """Record the run's state, keeping what status.json already said."""
    status_path = path / "status.json"
    status = _read_optional(status_path)
    status = status if isinstance(status, dict) else {}
    status.update(details, state=state, updated=time.strftime("%Y-%m-%d %H:%M:%S"))
    write_json(status_path, status)


def save_history(path: Path, history: list[dict[str, float]]) -> None:
    write_json(path / "history.json", history)


def finish_run(path: Path, model: "keras.Model", metrics: dict[str, Any]) -> None:
    """Save model and metrics, then, last, mark the run complete with every file's checksum.

    Any OSError (a full disk) leaves the run not complete, so the previous run stays in use.
    """
    model_path = path / MODEL_FILE
    with atomic_path(model_path, suffix=".keras") as temporary:
        model.save(temporary)
    write_json(path / "metrics.json", metrics)
    files = {name: _fingerprint(path / name) for name in RECORDED_FILES if (path / name).exists()}
    set_state(
        path,
        COMPLETE,
        files=files,
        model_bytes=files[MODEL_FILE]["bytes"],
        model_sha256=files[MODEL_FILE]["sha256"],
    )


def recover_interrupted(runs_dir: Path) -> list[str]:
    """Mark runs whose training process is gone as "interrupted"; returns their names.

    Called when a server or the CLI starts: a run left "running" by a killed process is never
    complete, and its half-written temporary files are removed.
    """
    recovered = []
    for run in list_runs(runs_dir):
        if run.state != RUNNING or _still_training(run.status):
            continue
        try:
            for leftover in run.path.glob(".*"):
                leftover.unlink(missing_ok=True)
            set_state(
                run.path, INTERRUPTED, error=Text("The server stopped while it was training.")
            )
        except OSError:  # a read-only runs folder: the run stays "running", never complete
            continue
        recovered.append(run.name)
    return recovered


def _still_training(status: dict[str, Any]) -> bool:
    """Whether the process that started this run is alive (this one, or another one)."""
    pid = status.get("pid")
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return status.get("process") == PROCESS_TOKEN
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM  # alive, owned by someone else
    return True


def _fingerprint(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": file_digest(path, "sha256")}


def read_run(path: Path, status: dict[str, Any] | None = None) -> Run:
    """Read a run folder; a missing or damaged file leaves that part empty, never raises.
    `status`: its status.json, when the caller has read it already.

    A complete run whose small files differ from the sizes and checksums recorded at the end
    is "damaged" (the model file is checked in full when it is loaded).
    """
    status = _read_optional(path / "status.json") if status is None else status
    status = status if isinstance(status, dict) else {"state": FAILED}
    if status.get("state") == COMPLETE and not _files_match(path, status.get("files")):
        status = {**status, "state": DAMAGED}
    try:
        config = TrainConfig.from_dict(_read_optional(path / "config.json"))
    except Exception:  # missing, not a dict, or values out of range: never usable
        config, status = TrainConfig(), {**status, "state": FAILED}
    return Run(
        path,
        config,
        status,
        _read_optional(path / "history.json") or [],
        _read_optional(path / "metrics.json"),
    )


def list_runs(runs_dir: Path) -> list[Run]:
    """All runs, newest first (complete or not: check `is_complete`)."""
    return list(_newest_first(runs_dir))


def latest_complete_run(runs_dir: Path) -> Run | None:
    """The newest complete run, reading run folders newest first only until one is, and of
    a run not marked complete only its status: the Draw page asks on every stroke, and a
    term's many runs, stopped ones too, then cost little more than one."""
    for folder in _folders_newest_first(runs_dir):
        status = _read_optional(folder / "status.json")
        if isinstance(status, dict) and status.get("state") == COMPLETE:
            run = read_run(folder, status)
            if run.is_complete:
                return run
    return None


def _newest_first(runs_dir: Path) -> Iterator[Run]:
    """The runs, read one at a time, newest first."""
    for folder in _folders_newest_first(runs_dir):
        yield read_run(folder)


def _folders_newest_first(runs_dir: Path) -> list[Path]:
    """The run folders, newest first (they are named by their start)."""
    if not runs_dir.is_dir():
        return []
    folders = [p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(folders, reverse=True)


def find_run(runs_dir: Path, name: str) -> Run:
    """The complete run called `name` (a folder directly in `runs_dir`, nothing outside it).

    "latest" names the newest complete run.
    """
    if name == "latest":
        run = latest_complete_run(runs_dir)
        if run is None:
            raise RunError(
                Text(
                    "There is no complete run in {folder} yet: train one first.",
                    folder=str(runs_dir),
                )
            )
        return run
    path = (runs_dir / name).resolve()
    if path.parent != runs_dir.resolve() or not path.is_dir():
        raise RunError(
            Text(
                "There is no run called {name} in {folder}.", name=repr(name), folder=str(runs_dir)
            )
        )
    run = read_run(path)
    if not run.is_complete:
        raise RunError(
            Text(
                "Run {name} is {state}, not complete: it has no model to use.",
                name=name,
                state=Text(STATE_NAMES.get(run.state, run.state)),
            )
        )
    return run


def load_model(run: Run, runs_dir: Path | None = None) -> "keras.Model":
    """Load the run's model after checking it is the file that was saved (size and sha256).

    Only a run folder directly inside the runs folder is loaded, with Keras's safe mode on,
    so a model file can never run code (no Lambda layers, no pickle).
    """
    runs_dir = resolve_runs_dir(runs_dir)
    if run.path.resolve().parent != runs_dir.resolve():
        raise RunError(
            Text(
                "{path} is not a run in {folder}: only runs there are loaded.",
                path=str(run.path),
                folder=str(runs_dir),
            )
        )
    path = run.model_path
    expected = (run.status.get("model_bytes"), run.status.get("model_sha256"))
    if (
        not path.is_file()
        or path.stat().st_size != expected[0]
        or file_digest(path, "sha256") != expected[1]
    ):
        raise RunError(
            Text("The model file of run {name} is missing or damaged: train again.", name=run.name)
        )
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        raise RunError(
            Text(
                "The model of run {name} cannot be loaded ({error}).",
                name=run.name,
                error=str(error),
            )
        ) from error


def _files_match(path: Path, recorded: Any) -> bool:
    """JSON files by size and sha256, the model by size (hashing 60 MB on every page is slow).

    Runs saved before files were recorded have none: their model is still checked on loading.
    """
    if recorded is None:
        return True
    if not isinstance(recorded, dict) or MODEL_FILE not in recorded:
        return False
    try:
        for name, expected in recorded.items():
            file = path / name
            if file.stat().st_size != expected["bytes"]:
                return False
            if name != MODEL_FILE and file_digest(file, "sha256") != expected["sha256"]:
                return False
    except (OSError, KeyError, TypeError):
        return False
    return True


def _read_optional(path: Path) -> Any:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None
