"""Runs on disk: one folder per training run, complete only when everything is saved.

A run folder holds `config.json`, `status.json`, `history.json` (one row per epoch),
`metrics.json` (clean and augmented test accuracy, confusion matrix) and `model.keras`
(base + head, so prediction needs no feature cache). Every file is written atomically and
`status.json` says "complete" only after the model and metrics are in place, with the model's
size and sha256 recorded; a run stopped or killed halfway therefore never looks complete.
"""

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from tl_core.config import TrainConfig
from tl_core.errors import RunError
from tl_core.files import atomic_path, file_digest, read_json, write_json
from tl_core.paths import default_runs_dir

MODEL_FILE = "model.keras"
RUNNING, STOPPED, FAILED, COMPLETE = "running", "stopped", "failed", "complete"
REQUIRED_METRICS = ("test_accuracy", "test_accuracy_augmented")


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
    """Make a new run folder in state "running", named by time so runs sort by age."""
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    path = runs_dir / name
    path.mkdir(parents=True)
    write_json(path / "config.json", config.to_dict())
    set_state(path, RUNNING, **info)
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


def finish_run(path: Path, model: keras.Model, metrics: dict[str, Any]) -> None:
    """Save model and metrics, then, last, mark the run complete with the model's checksum."""
    model_path = path / MODEL_FILE
    with atomic_path(model_path, suffix=".keras") as temporary:
        model.save(temporary)
    write_json(path / "metrics.json", metrics)
    set_state(
        path,
        COMPLETE,
        model_bytes=model_path.stat().st_size,
        model_sha256=file_digest(model_path, "sha256"),
    )


def read_run(path: Path) -> Run:
    """Read a run folder; a missing or damaged file leaves that part empty, never raises."""
    status = _read_optional(path / "status.json")
    status = status if isinstance(status, dict) else {"state": FAILED}
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
    if not runs_dir.is_dir():
        return []
    folders = [p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return [read_run(p) for p in sorted(folders, reverse=True)]


def latest_complete_run(runs_dir: Path) -> Run | None:
    return next((run for run in list_runs(runs_dir) if run.is_complete), None)


def find_run(runs_dir: Path, name: str) -> Run:
    """The complete run called `name` (a folder directly in `runs_dir`, nothing outside it).

    "latest" names the newest complete run.
    """
    if name == "latest":
        run = latest_complete_run(runs_dir)
        if run is None:
            raise RunError(f"There is no complete run in {runs_dir} yet: train one first.")
        return run
    path = (runs_dir / name).resolve()
    if path.parent != runs_dir.resolve() or not path.is_dir():
        raise RunError(f"There is no run called {name!r} in {runs_dir}.")
    run = read_run(path)
    if not run.is_complete:
        raise RunError(f"Run {name} is {run.state}, not complete: it has no model to use.")
    return run


def load_model(run: Run) -> keras.Model:
    """Load the run's model after checking it is the file that was saved (size and sha256)."""
    path = run.model_path
    expected = (run.status.get("model_bytes"), run.status.get("model_sha256"))
    if (
        not path.is_file()
        or path.stat().st_size != expected[0]
        or file_digest(path, "sha256") != expected[1]
    ):
        raise RunError(f"The model file of run {run.name} is missing or damaged: train again.")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:
        raise RunError(f"The model of run {run.name} cannot be loaded ({error}).") from error


def _read_optional(path: Path) -> Any:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None
