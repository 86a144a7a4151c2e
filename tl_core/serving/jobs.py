"""One heavy job at a time per server, watched by every browser tab.

Everything heavy goes through the server's single ServerJob (`server_job()`: one per
process, outside Streamlit's caches, which any browser can empty with a `clear_cache`
message; a job kept there could be orphaned and a second started beside it): training,
and the Compare page's comparisons, data-size sweeps and cuts, each of which trains several
networks. Its worker thread runs the work and only records progress here, never touching
Streamlit; pages poll `snapshot()`, and the last result of each kind of work stays for every
tab to show (`latest`). A second start while a job runs is refused with a sentence naming
what is running, and leaving a page does not stop the job. Who may start or stop is decided
in tl_core.serving.access (the passcode, or the server's own computer); the class set's
changes and adopting a model check the same through `check_teacher`. Everyone may watch.
Cheap per-student work (predicting a drawing, showing a saved result) never goes through
here.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tl_core.config import TrainConfig
from tl_core.errors import DigitLabError, NotAllowed, TrainingStopped, message_of
from tl_core.i18n import Text
from tl_core.pipeline.handwriting import (
    class_entries,
    expire_drawings,
    remove_drawing,
    remove_half_written,
    start_new_class_set,
)
from tl_core.pipeline.predict import DRAWINGS_WAITING
from tl_core.pipeline.runs import Run, recover_interrupted, resolve_runs_dir
from tl_core.pipeline.train import ProgressEvent, train
from tl_core.serving.access import NO_PASSCODE, TeacherKey, may_control_training, not_allowed
from tl_core.serving.hosting import check_limits, hosting_limits
from tl_core.serving.lessonfile import LessonSummary, lesson_bytes, open_lesson

IDLE, RUNNING, STOPPING, DONE, STOPPED, FAILED = (
    "idle",
    "running",
    "stopping",
    "done",
    "stopped",
    "failed",
)
TRAINING = "train"  # the kind of the Train page's job; other kinds name their own work
Report = Callable[[int, int, str], None]  # step, total, message; raises once stopped
Work = Callable[[Report], Any]


@dataclass(frozen=True)
class JobStatus:
    """A copy of the job's state at one moment, safe to read from any thread."""

    state: str = IDLE
    kind: str = ""
    title: str = ""
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


class ServerJob:
    """Runs at most one heavy job at a time (a training or another task) in a worker thread."""

    def __init__(self, runs_dir: Path | None = None, key: TeacherKey = NO_PASSCODE) -> None:
        """One per server; runs left "running" by a server that was killed are recovered."""
        self.runs_dir = runs_dir
        self.key = key
        recover_interrupted(resolve_runs_dir(runs_dir))
        remove_half_written()
        expire_drawings()
        self._lock = threading.Lock()
        self._status = JobStatus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._latest: dict[str, tuple[str, Any]] = {}

    def may_control(self, entered: str | None, on_this_computer: bool = True) -> bool:
        """Whether a caller who entered this passcode (or none), on the server's computer or
        not, may start and stop heavy work (tl_core.serving.access). Callers in this process
        (the CLI, a script) are on it."""
        return may_control_training(entered, self.key, on_this_computer)

    def start(
        self, config: TrainConfig, entered: str | None = None, on_this_computer: bool = True
    ) -> bool:
        """Start training; False (and nothing changes) if a job is already running.

        Raises NotAllowed when the caller may not (`may_control`), and
        ConfigError when it asks for more than a hosted classroom allows (tl_core.serving.hosting).
        """
        drawings = len(class_entries()) if config.include_handwriting else 0
        check_limits(config, hosting_limits(), drawings)  # a hosted classroom's small server
        title = Text("Training") if config.is_transfer else Text("Training (random weights)")
        self.check_teacher(entered, on_this_computer)
        return self._launch(TRAINING, title, config, lambda: self._train(config))

    def start_task(
        self,
        kind: str,
        title: str,
        work: Work,
        entered: str | None = None,
        on_this_computer: bool = True,
    ) -> bool:
        """Start other heavy work: `work(report)` runs in the worker thread and returns the
        result that `latest(kind)` then gives every tab. False if a job is already running.

        `report(step, total, message)` records progress, and raises TrainingStopped once a
        stop was asked for, so the work ends at its next report.
        """
        self.check_teacher(entered, on_this_computer)
        return self._launch(kind, title, None, lambda: self._task(kind, title, work))

    def remove_drawing(self, name: str, entered: str | None, on_this_computer: bool) -> bool:
        """The teacher removes one drawing from the class set (a scribble, a joke)."""
        self.check_teacher(entered, on_this_computer)
        return remove_drawing(name)

    def new_class_set(self, keep: bool, entered: str | None, on_this_computer: bool) -> int:
        """The teacher ends the class set, putting its drawings aside (`keep`) or deleting
        them; how many it held. Drawings past their retention go too."""
        self.check_teacher(entered, on_this_computer)
        expire_drawings()
        return start_new_class_set(keep)

    def lesson_bytes(self, run: Run, entered: str | None, on_this_computer: bool) -> bytes:
        """The teacher saves the lesson: the model in use and the class set, as one file."""
        self.check_teacher(entered, on_this_computer)
        return lesson_bytes(run)

    def open_lesson(self, file: Path, entered: str | None, on_this_computer: bool) -> LessonSummary:
        """The teacher opens a lesson file: its model becomes the model in use, its drawings
        join the class set (tl_core.serving.lessonfile checks the file first)."""
        self.check_teacher(entered, on_this_computer)
        return open_lesson(file, self.runs_dir)

    def latest(self, kind: str) -> tuple[str, Any] | None:
        """(title, result) of the last finished job of this kind since the server started."""
        with self._lock:
            return self._latest.get(kind)

    def busy_message(self) -> str:
        """One sentence for a start that was refused: what is running, and what to do."""
        status = self.snapshot()
        if not status.title:
            return Text(
                "A job is running on the server: wait until it is done (every tab shows its "
                "progress), or stop it first."
            )
        return Text(
            "{job} is running on the server: wait until it is done (every tab shows its "
            "progress), or stop it first.",
            job=status.title,
        )

    def _launch(
        self,
        kind: str,
        title: str,
        config: TrainConfig | None,
        body: Callable[[], None],
    ) -> bool:
        with self._lock:
            if self._status.is_active:
                return False
            self._stop = threading.Event()
            self._status = JobStatus(
                RUNNING,
                kind,
                title,
                config,
                kind if kind != TRAINING else "data",
                message=Text("Starting"),
                started=time.monotonic(),
            )
            self._thread = threading.Thread(
                target=self._run, args=(body,), daemon=True, name=f"digit-lab-{kind}"
            )
            self._thread.start()
            return True

    def stop(self, entered: str | None = None, on_this_computer: bool = True) -> bool:
        """Ask the running job to stop after its current batch; False if none runs."""
        self.check_teacher(entered, on_this_computer)
        with self._lock:
            if self._status.state != RUNNING:
                return False
            self._stop.set()
            self._status = replace(self._status, state=STOPPING, message=Text("Stopping"))
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

    def check_teacher(self, entered: str | None, on_this_computer: bool) -> None:
        """Raise NotAllowed, in one sentence, unless the caller is the teacher."""
        if not self.may_control(entered, on_this_computer):
            raise NotAllowed(not_allowed(self.key))

    def _run(self, body: Callable[[], None]) -> None:
        """The worker thread: run the job and record how it ended, whatever happens."""
        try:
            body()
        except TrainingStopped:
            self._finish(STOPPED, message=Text("Stopped: nothing was saved as complete."))
        except DigitLabError as error:
            self._finish(FAILED, error=message_of(error))
        except BaseException as error:  # the worker must never die silently
            failed = Text(
                "{job} failed unexpectedly: {error}", job=self._status.title, error=str(error)[:500]
            )
            self._finish(FAILED, error=failed)

    def _train(self, config: TrainConfig) -> None:
        result = train(config, self.runs_dir, listener=self._record, stop=self._stop)
        self._finish(DONE, run_name=result.run.name, message=Text("Saved: now the model in use."))

    def _task(self, kind: str, title: str, work: Work) -> None:
        def report(step: int, total: int, message: str) -> None:
            if self._stop.is_set():
                raise TrainingStopped(Text("{job} was stopped.", job=title))
            self._record(ProgressEvent(kind, step, total, message=message))

        result = work(report)
        with self._lock:
            self._latest[kind] = (title, result)
        self._finish(DONE, message=Text("Done: every tab shows the result."))

    def _record(self, event: ProgressEvent) -> None:
        """The listener: keep the latest progress per phase and one history row per epoch.

        Called by the worker between batches, it first lets the drawings that are waiting
        be answered: on a shared server the students' answers go before the job.
        """
        DRAWINGS_WAITING.wait_until_none()
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


_SERVER_JOB: ServerJob | None = None
_SERVER_JOB_LOCK = threading.Lock()


def server_job(key: Callable[[], TeacherKey]) -> ServerJob:
    """The process's one ServerJob, made on first use with the teacher key `key()` gives
    (asked once: a made-up passcode stays the same for the server's life)."""
    global _SERVER_JOB
    with _SERVER_JOB_LOCK:
        if _SERVER_JOB is None:
            _SERVER_JOB = ServerJob(key=key())
        return _SERVER_JOB
