"""One background training job per server, watched by every browser tab.

The app keeps a single TrainingJob (through `st.cache_resource`); its worker thread calls
`train` and only records progress here, never touching Streamlit. Pages poll `snapshot()`.
A second start while a job runs is refused, and leaving a page does not stop training.
When a teacher passcode is set (tl_core.serving.access), only a caller that gives it may start or
stop; everyone may watch.
"""

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from tl_core.config import TrainConfig
from tl_core.errors import DigitLabError, NotAllowed, TrainingStopped
from tl_core.pipeline.train import ProgressEvent, train
from tl_core.serving.access import may_control_training
from tl_core.serving.runs import recover_interrupted, resolve_runs_dir

IDLE, RUNNING, STOPPING, DONE, STOPPED, FAILED = (
    "idle",
    "running",
    "stopping",
    "done",
    "stopped",
    "failed",
)


@dataclass(frozen=True)
class JobStatus:
    """A copy of the job's state at one moment, safe to read from any thread."""

    state: str = IDLE
    config: TrainConfig | None = None
    phase: str = ""
    step: int = 0
    total: int = 0
    message: str = ""
    history: tuple[dict[str, float], ...] = ()
    run_name: str | None = None
    error: str | None = None
    started: float | None = None
    first_point_s: float | None = None
    seconds: float | None = None
    phase_progress: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        return self.state in (RUNNING, STOPPING)


class TrainingJob:
    """Runs at most one `train` at a time in a worker thread."""

    def __init__(self, runs_dir: Path | None = None, passcode: str | None = None) -> None:
        """One per server; runs left "running" by a server that was killed are recovered."""
        self.runs_dir = runs_dir
        self.passcode = passcode
        recover_interrupted(resolve_runs_dir(runs_dir))
        self._lock = threading.Lock()
        self._status = JobStatus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def may_control(self, entered: str | None) -> bool:
        """Whether a caller who entered this passcode (or none) may start and stop training."""
        return may_control_training(entered, self.passcode)

    def start(self, config: TrainConfig, entered: str | None = None) -> bool:
        """Start training; False (and nothing changes) if a job is already running.

        Raises NotAllowed when a teacher passcode is set and `entered` is not it.
        """
        self._check_allowed(entered)
        with self._lock:
            if self._status.is_active:
                return False
            self._stop = threading.Event()
            self._status = JobStatus(
                RUNNING, config, "data", message="Starting", started=time.monotonic()
            )
            self._thread = threading.Thread(
                target=self._work, args=(config,), daemon=True, name="digit-lab-training"
            )
            self._thread.start()
            return True

    def stop(self, entered: str | None = None) -> bool:
        """Ask the running job to stop after its current batch; False if none runs."""
        self._check_allowed(entered)
        with self._lock:
            if self._status.state != RUNNING:
                return False
            self._stop.set()
            self._status = replace(self._status, state=STOPPING, message="Stopping")
            return True

    def snapshot(self) -> JobStatus:
        with self._lock:
            return self._status

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the worker ends (for tests and scripts)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.snapshot()

    def _check_allowed(self, entered: str | None) -> None:
        if not self.may_control(entered):
            raise NotAllowed("Only the teacher can start or stop training: enter the passcode.")

    def _work(self, config: TrainConfig) -> None:
        try:
            result = train(config, self.runs_dir, listener=self._record, stop=self._stop)
        except TrainingStopped:
            self._finish(STOPPED, message="Stopped: the run was not saved as complete.")
        except DigitLabError as error:
            self._finish(FAILED, error=str(error))
        except BaseException as error:  # the worker must never die silently
            self._finish(FAILED, error=f"Training failed unexpectedly: {error}"[:500])
        else:
            self._finish(DONE, run_name=result.run.name, message="Saved: now the model in use.")

    def _record(self, event: ProgressEvent) -> None:
        """The listener: keep the latest progress per phase and one history row per epoch."""
        with self._lock:
            status = self._status
            history = status.history
            first_point = status.first_point_s
            if event.metrics and event.phase in ("train", "fine-tune"):
                history = (
                    *history,
                    {"epoch": len(history) + 1, "phase": event.phase, **event.metrics},
                )
                if first_point is None and status.started is not None:
                    first_point = round(time.monotonic() - status.started, 2)
            self._status = replace(
                status,
                phase=event.phase,
                step=event.step,
                total=event.total,
                message=event.message or status.message,
                history=history,
                first_point_s=first_point,
                phase_progress={**status.phase_progress, event.phase: (event.step, event.total)},
            )

    def _finish(self, state: str, **details: object) -> None:
        with self._lock:
            elapsed = None
            if self._status.started is not None:
                elapsed = round(time.monotonic() - self._status.started, 2)
            self._status = replace(self._status, state=state, seconds=elapsed, **details)
