"""A whole class at once: shared prediction, the teacher passcode, faults and safe loading.

Each fault test checks the message a person sees and that nothing was lost: the previous
complete run stays the model in use.
"""

import logging
import queue
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import md5_of
from helpers import TINY, install_run
from PIL import Image

from tl_core.config import TrainConfig
from tl_core.download import Download, cached_file
from tl_core.errors import ImageError, NotAllowed, PredictionFailed, RunError
from tl_core.pipeline.data import load_embedded
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.runs import (
    COMPLETE,
    DAMAGED,
    INTERRUPTED,
    RUNNING,
    Run,
    find_run,
    finish_run,
    latest_complete_run,
    list_runs,
    load_model,
    read_run,
    recover_interrupted,
)
from tl_core.pipeline.train import ProgressEvent, train
from tl_core.serving.access import (
    NO_PASSCODE,
    PASSCODE_ENV,
    PasscodeGate,
    TeacherKey,
    is_this_computer,
    may_control_training,
    teacher_key,
)
from tl_core.serving.jobs import ServerJob
from tl_core.serving.shelf import Shelf
from tl_core.tools.bench import sample_drawing
from tl_core.tools.loadtest import run_load_test

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def first_run(tiny_run: Run, runs_dir: Path) -> Run:
    """A complete run: the model in use that no fault may take away."""
    return install_run(tiny_run, runs_dir)


def scans(count: int) -> list[np.ndarray]:
    """Real test digits, scaled up like photos of paper (dark ink on white)."""
    digits = load_embedded().x_test[:count]
    return [255 - np.asarray(Image.fromarray(d).resize((140, 140))) for d in digits]


def test_predictions_from_16_threads_at_once_match_one_by_one(first_run, runs_dir) -> None:
    predictor = Predictor(load_model(first_run, runs_dir))
    images = scans(16)
    one_by_one = [predictor.predict_image(image) for image in images]
    with ThreadPoolExecutor(16) as pool:
        at_once = list(pool.map(predictor.predict_image, images))
    assert [p.digit for p in at_once] == [p.digit for p in one_by_one]
    for together, alone in zip(at_once, one_by_one, strict=True):  # float32 either way
        np.testing.assert_allclose(together.probabilities, alone.probabilities, atol=1e-4)


class DiesOnce(queue.Queue):
    """The worker's queue, failing the first time the worker takes from it: the worker
    thread dies with a drawing taken and unanswered."""

    died = False

    def get(self, *args: object, **kwargs: object) -> object:
        if not self.died:
            self.died = True
            raise RuntimeError("the prediction worker dies")
        return super().get(*args, **kwargs)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_prediction_worker_is_one_sentence_and_the_next_drawing_gets_a_fresh_one(
    first_run, runs_dir
) -> None:
    predictor = Predictor(load_model(first_run, runs_dir))
    digit = load_embedded().x_test[0]
    expected = predictor.predict_digit(digit).probabilities
    predictor._requests = DiesOnce()  # fault injection: the worker's next take kills it
    with pytest.raises(PredictionFailed, match="stopped answering: draw your digit again"):
        predictor.predict_digit(digit)
    np.testing.assert_allclose(predictor.predict_digit(digit).probabilities, expected, atol=1e-5)
    with pytest.raises(ImageError, match="28x28"):  # a wrong shape never reaches the worker
        predictor.predict_digit(np.zeros((28, 29), np.uint8))
    assert predictor.predict_digit(digit).digit == int(np.argmax(expected))


def test_without_a_passcode_only_this_computer_may_train_with_one_only_the_teacher(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owl = TeacherKey("owl-in-the-oak", "set")
    assert may_control_training(None, NO_PASSCODE)  # on this computer
    assert not may_control_training(None, NO_PASSCODE, on_this_computer=False)  # a student
    assert not may_control_training(None, owl) and not may_control_training("OWL-IN-THE-OAK", owl)
    assert may_control_training("owl-in-the-oak", owl, on_this_computer=False)  # anywhere
    student = ServerJob(runs_dir)  # no passcode
    with pytest.raises(NotAllowed, match="Only the computer running the app"):
        student.start(TINY, None, on_this_computer=False)
    with pytest.raises(NotAllowed, match=PASSCODE_ENV):
        student.stop(on_this_computer=False)
    monkeypatch.setenv(PASSCODE_ENV, "owl-in-the-oak")
    assert teacher_key() == owl
    monkeypatch.delenv(PASSCODE_ENV)
    assert teacher_key({"teacher_passcode": "lark-on-a-wire"}).passcode == "lark-on-a-wire"
    assert teacher_key() == NO_PASSCODE

    job = ServerJob(runs_dir, key=owl)
    for entered in (None, "wrong"):
        with pytest.raises(NotAllowed, match="Only the teacher can do this"):
            job.start(TINY, entered)
    assert job.snapshot().state == "idle" and not list_runs(runs_dir)
    assert job.start(TINY, "owl-in-the-oak")
    with pytest.raises(NotAllowed):
        job.stop()  # this computer, without the passcode that was set by hand
    assert job.wait(120).state == "done"


def test_only_a_direct_loopback_connection_is_this_computer() -> None:
    """Exactly 127.0.0.1, ::1 and 127.0.0.1 mapped into IPv6 (how a server listening on
    every address sees a browser at http://127.0.0.1): a sidecar proxy's 127.0.0.6, a
    forwarded request, no address and a stand-in are students."""
    local = ("127.0.0.1", "::1", "::ffff:127.0.0.1", "0:0:0:0:0:ffff:7f00:1")
    assert [is_this_computer(peer) for peer in local] == [True] * 4
    others = (None, object(), "127.0.0.6", "127.0.1.1", "::ffff:127.0.0.6", "192.0.2.7")
    assert not any(is_this_computer(peer) for peer in (*others, "fd00::2", "junk", ""))
    for header in ("X-Forwarded-For", "forwarded", "X-Real-IP"):
        assert not is_this_computer("127.0.0.1", {header: "127.0.0.1"})
    assert is_this_computer("127.0.0.1", {"Host": "localhost:8501", "Origin": "x"})


def test_a_server_students_can_reach_makes_up_a_passcode_and_a_short_one_locks_everyone_out(
    monkeypatch: pytest.MonkeyPatch, runs_dir: Path
) -> None:
    made_up = teacher_key(reachable=True)
    assert made_up.source == "made up" and len(made_up.passcode) >= 8
    assert teacher_key(reachable=True).passcode != made_up.passcode  # not guessable
    assert may_control_training(None, made_up)  # this computer still teaches
    assert may_control_training(made_up.passcode, made_up, on_this_computer=False)
    assert not may_control_training("wrong", made_up, on_this_computer=False)
    monkeypatch.setenv(PASSCODE_ENV, "owl")
    short = teacher_key(reachable=True)
    assert short.too_short == 3
    assert not may_control_training("owl", short, on_this_computer=False)
    assert not may_control_training(None, short)  # this computer neither: fix it first
    with pytest.raises(NotAllowed, match="too short"):
        ServerJob(runs_dir, key=short).start(TINY)


def test_wrong_passcodes_wait_longer_and_longer_per_session_and_per_server() -> None:
    now = [1000.0]
    gate = PasscodeGate(clock=lambda: now[0])
    right = "owl-in-the-oak"
    assert [gate.attempt("a", "guess", right) for _ in range(3)] == [False] * 3
    assert gate.attempt("a", "guess", right) is False  # the fourth is checked, then waits
    wait = gate.attempt("a", right, right)
    assert wait == 2.0  # even the right one waits: nothing is checked while waiting
    now[0] += 2.0
    assert gate.attempt("a", right, right) is True
    assert gate.attempt("b", right, right) is True  # another session is not slowed
    for session in range(40):  # a student opening tab after tab
        gate.attempt(f"tab-{session}", "guess", right)
    assert gate.wait_s("c") > 0  # the server as a whole now slows every try
    now[0] += 700.0  # ten minutes later the server has forgotten them
    assert gate.attempt("d", "typo", right) is False and gate.wait_s("e") == 0


@pytest.mark.slow  # a second process loads TensorFlow and MNIST: in CI's full run
def test_a_run_killed_halfway_is_not_complete_and_the_next_start_marks_it(
    first_run, runs_dir: Path
) -> None:
    command = [sys.executable, "-m", "tl_core", "train", "--source", "embedded"]
    command += ["--weights", "random", "--per-class", "100", "--epochs", "50"]
    command += ["--runs-dir", str(runs_dir)]
    trainer = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        for line in iter(trainer.stderr.readline, ""):
            if "features" in line:  # the new run folder exists and the base is running
                break
    finally:
        trainer.send_signal(signal.SIGKILL)
        trainer.wait(30)
    killed = next(run for run in list_runs(runs_dir) if run.name != first_run.name)
    assert killed.state == RUNNING and not killed.is_complete
    assert latest_complete_run(runs_dir).name == first_run.name

    ServerJob(runs_dir)  # what a new server does when it starts
    assert read_run(killed.path).state == INTERRUPTED
    assert recover_interrupted(runs_dir) == []  # already done, and a finished run is left alone
    assert read_run(first_run.path).state == COMPLETE


def test_a_running_run_of_this_process_is_left_alone(runs_dir: Path) -> None:
    seen: list[list[str]] = []

    def listener(event: ProgressEvent) -> None:
        if event.phase == "train" and not seen:
            seen.append(recover_interrupted(runs_dir))

    train(TINY, runs_dir, listener=listener)
    assert seen == [[]] and list_runs(runs_dir)[0].is_complete


@pytest.mark.parametrize("damage", ["truncate-model", "alter-metrics", "alter-history"])
def test_an_altered_run_file_makes_the_run_damaged_never_used(
    first_run, runs_dir: Path, damage: str
) -> None:
    later = train(TINY, runs_dir).run
    if damage == "truncate-model":
        with later.model_path.open("r+b") as handle:
            handle.truncate(later.model_path.stat().st_size // 2)
    else:
        name = "metrics.json" if damage == "alter-metrics" else "history.json"
        text = (later.path / name).read_text()
        (later.path / name).write_text(text.replace("0.", "1.", 1))
    assert read_run(later.path).state == DAMAGED
    assert latest_complete_run(runs_dir).name == first_run.name  # the earlier model is used


def test_a_model_file_altered_in_place_is_refused_when_loaded(first_run, runs_dir) -> None:
    with first_run.model_path.open("r+b") as handle:  # same size, one byte changed
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(RunError, match="missing or damaged: train again"):
        load_model(read_run(first_run.path), runs_dir)


def test_a_full_disk_while_saving_keeps_the_previous_model(first_run, runs_dir: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse the large model file, as a full disk would."""
    before = Predictor(load_model(first_run, runs_dir)).probabilities(load_embedded().x_test[:20])
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def listener(event: ProgressEvent) -> None:
        if event.phase == "save":
            resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, limits[1]))

    try:
        with pytest.raises(RunError) as caught:
            train(TINY, runs_dir, listener=listener)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert "was not saved and the previous model stays in use" in str(caught.value)
    failed = next(run for run in list_runs(runs_dir) if run.name != first_run.name)
    assert not failed.is_complete and not failed.model_path.exists()
    assert not list(failed.path.glob(".*"))  # no half-written model left behind
    in_use = latest_complete_run(runs_dir)
    assert in_use.name == first_run.name
    digits = load_embedded().x_test[:20]
    served = Predictor(load_model(in_use, runs_dir)).probabilities(digits)
    np.testing.assert_allclose(served, before, atol=1e-6)  # the very same model, still served


def test_a_runs_folder_that_cannot_be_written_says_so(tmp_path: Path) -> None:
    blocked = tmp_path / "runs"
    blocked.write_text("a file where the runs folder should be")
    with pytest.raises(RunError, match=r"Cannot write a run into .* set DIGITLAB_HOME"):
        train(TINY, blocked / "inner")
    assert blocked.read_text().startswith("a file")


def test_a_feature_cache_that_cannot_be_written_is_skipped(
    isolated_homes: Path, runs_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = isolated_homes / "digitlab" / "cache"
    cache.parent.mkdir(parents=True)
    cache.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        result = train(TINY, runs_dir)
    assert result.run.is_complete and not result.features_cached
    assert "Could not write the feature cache" in caplog.text


def test_a_damaged_weights_file_in_the_keras_cache_is_not_used(vgg16_weights_file: Path) -> None:
    download = Download("http://127.0.0.1:9/w.h5", "w.h5", md5_of(vgg16_weights_file), "models")
    download.cache_path().parent.mkdir(parents=True)
    good = vgg16_weights_file.read_bytes()
    download.cache_path().write_bytes(good[: len(good) - 1000])
    assert cached_file(download) is None and not download.cache_path().exists()


def test_models_load_only_from_the_runs_folder(first_run, runs_dir: Path, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(first_run.path, elsewhere / first_run.name)
    with pytest.raises(RunError, match="only runs there are loaded"):
        load_model(read_run(elsewhere / first_run.name), runs_dir)
    for name in ("../elsewhere/" + first_run.name, "/etc", ".."):
        with pytest.raises(RunError, match="There is no run called"):
            find_run(runs_dir, name)


def test_a_model_that_would_run_code_is_refused(first_run, runs_dir: Path) -> None:
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Lambda(lambda x: x[:, 0, 0, :1] * 0 + 1)(inputs)
    finish_run(first_run.path, keras.Model(inputs, outputs), first_run.metrics)
    run = read_run(first_run.path)
    assert run.is_complete  # checksums match: only safe mode stands in the way
    with pytest.raises(RunError, match="cannot be loaded"):
        load_model(run, runs_dir)


@pytest.mark.slow
def test_the_load_test_answers_every_client(first_run) -> None:
    result = run_load_test(first_run.path, clients=4, seconds=3, drawing=sample_drawing())
    summary = result.summary()
    assert result.errors == 0 and result.requests >= 4 and len(result.digits) == 1
    assert summary["requests"] == result.requests and min(result.latencies_ms) > 0


@pytest.mark.slow
def test_the_load_test_can_run_beside_a_server_job(first_run) -> None:
    slow = TrainConfig(data_source="embedded", weights="random", per_class=50, epochs=50)
    result = run_load_test(first_run.path, 2, 3, sample_drawing(), slow.to_dict())
    assert result.errors == 0 and result.requests > 0
    assert result.training_state == "running"


def test_heavy_work_runs_in_the_job_one_at_a_time_and_stops_at_its_next_report(
    runs_dir: Path,
) -> None:
    job = ServerJob(runs_dir, key=TeacherKey("owl-in-the-oak", "set"))
    release = threading.Event()

    def work(report) -> str:
        for step in range(1000):
            report(step, 1000, f"step {step}")
            release.wait(0.01)
        return "finished"

    with pytest.raises(NotAllowed):
        job.start_task("demo", "A demo", work)  # no passcode: not started
    assert job.snapshot().state == "idle"
    assert job.start_task("demo", "A demo", lambda report: 42, "owl-in-the-oak")
    assert job.wait(10).state == "done" and job.latest("demo") == ("A demo", 42)
    assert job.start_task("demo", "A long demo", work, "owl-in-the-oak")
    assert not job.start(TINY, "owl-in-the-oak")  # training waits for it
    assert job.busy_message().startswith("A long demo is running")
    assert job.snapshot().kind == "demo" and job.snapshot().is_active
    assert job.stop("owl-in-the-oak")
    assert job.wait(10).state == "stopped"
    assert job.latest("demo") == ("A demo", 42)  # a stopped job leaves the last result


def test_a_heavy_job_waits_between_batches_while_drawings_wait_for_answers() -> None:
    from tl_core.pipeline.predict import DRAWINGS_WAITING

    with DRAWINGS_WAITING:  # a student's drawing is being answered
        started = time.monotonic()
        DRAWINGS_WAITING.wait_until_none(timeout=0.3)
        assert time.monotonic() - started >= 0.3  # the job waited for it
    started = time.monotonic()
    DRAWINGS_WAITING.wait_until_none(timeout=5)
    assert time.monotonic() - started < 0.5  # nothing waiting: the job goes straight on


def test_a_shelf_builds_each_item_once_one_at_a_time_and_keeps_the_newest() -> None:
    shelf, builds, running, most = Shelf(2), [], [0], [0]
    lock = threading.Lock()

    def build(key: str) -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        builds.append(key)
        with lock:
            running[0] -= 1
        return key.upper()

    with ThreadPoolExecutor(16) as pool:  # a class asking at once, for two models
        keys = ["a", "b"] * 8
        got = list(pool.map(lambda key: shelf.get(key, lambda: build(key)), keys))
    assert got == [key.upper() for key in keys]
    assert sorted(builds) == ["a", "b"] and most[0] == 1  # once each, never two at once
    shelf.get("b", lambda: build("b"))  # "b" used last, so "a" is the oldest
    shelf.get("c", lambda: build("c"))
    assert not shelf.has("a") and shelf.has("b") and shelf.has("c")  # the oldest went

    def fails() -> str:
        raise RuntimeError("a damaged model file")

    with pytest.raises(RuntimeError):
        shelf.get("d", fails)
    assert shelf.get("d", lambda: "D") == "D"  # the next call tries again
