"""Steps 6-8 end to end: a tiny real run, read back by the CLI; stopping; run listing."""

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY, install_run
from PIL import Image

from tl_core.cli import main
from tl_core.config import TrainConfig
from tl_core.errors import ConfigError, TrainingStopped
from tl_core.pipeline import runs
from tl_core.pipeline.data import load_embedded
from tl_core.pipeline.drawn import drawn_set_for
from tl_core.pipeline.runs import (
    COMPLETE,
    STOPPED,
    Run,
    find_run,
    latest_complete_run,
    list_runs,
    load_model,
)
from tl_core.pipeline.train import ProgressEvent, train
from tl_core.pipeline.weights import EDGES_LABEL
from tl_core.tools.classload import remove_unfinished_runs


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def digit_png(path: Path, index: int = 0) -> Path:
    """A test digit scaled up like a scan, saved as PNG."""
    digit = load_embedded().x_test[index]
    Image.fromarray(digit).resize((280, 280)).save(path)
    return path


def test_tiny_run_reports_progress_and_writes_a_complete_run(runs_dir: Path) -> None:
    events: list[ProgressEvent] = []
    result = train(TINY, runs_dir, listener=events.append)
    run = result.run
    assert run.state == COMPLETE and run.is_complete and run.model_path.is_file()
    assert [row["epoch"] for row in run.history] == [1, 2]
    assert set(run.history[0]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    confusion = np.array(run.metrics["confusion"])
    assert run.metrics["test_accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert np.array(run.metrics["confusion"]).sum() == 50
    assert run.status["weights"] == EDGES_LABEL  # the pretrained base, offline
    assert "embedded" in run.status["data_source"]
    phases = [event.phase for event in events]
    assert phases[0] == "data" and phases[-1] == "done"
    features = [e for e in events if e.phase == "features"]
    # 2 views per training digit, the clean and augmented test digits, as many people's
    # digits as test digits, the drawn digits
    images = 10 * 10 * 2 + 50 + 50 + 50 + len(drawn_set_for(TINY.test_per_class))
    assert features[-1].step == features[-1].total == images
    assert [e.metrics is not None for e in events if e.phase == "train"] == [False, True, True]


def test_same_settings_again_skip_the_base_and_give_the_same_result(runs_dir: Path) -> None:
    first = train(TINY, runs_dir)
    second = train(TINY, runs_dir)
    assert not first.features_cached and second.features_cached
    assert second.run.metrics["test_accuracy"] == first.run.metrics["test_accuracy"]


def test_evaluate_and_predict_read_a_run_back(
    tiny_run: Run, runs_dir: Path, tmp_path: Path, capsys
) -> None:
    run = install_run(tiny_run, runs_dir)
    assert main(["evaluate", run.name, "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert f"clean {run.metrics['test_accuracy']:.4f}" in out

    image = digit_png(tmp_path / "digit.png")
    assert main(["predict", "latest", str(image), "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    from tl_core.pipeline.images import read_image
    from tl_core.pipeline.predict import Predictor

    model = load_model(find_run(runs_dir, run.name), runs_dir)
    expected = Predictor(model).predict_image(read_image(image))
    assert f"digit {expected.digit} with probability {expected.confidence:.3f}" in out


def test_predict_says_no_digit_on_an_empty_image(
    tiny_run: Run, runs_dir: Path, tmp_path: Path, capsys
) -> None:
    install_run(tiny_run, runs_dir)
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    assert main(["predict", "latest", str(blank), "--runs-dir", str(runs_dir)]) == 1
    assert "no digit found" in capsys.readouterr().out


def test_predict_on_an_unreadable_file_prints_one_line_and_fails(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "digit.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["predict", "latest", str(broken), "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("phase", ["features", "train"])
def test_a_stop_request_ends_training_and_leaves_no_complete_run(
    runs_dir: Path, phase: str
) -> None:
    stop = threading.Event()

    def listener(event: ProgressEvent) -> None:
        if event.phase == phase and event.step >= 1:
            stop.set()

    with pytest.raises(TrainingStopped):
        train(TINY, runs_dir, listener=listener, stop=stop)
    (run,) = list_runs(runs_dir)
    assert run.state == STOPPED and not run.is_complete
    assert not run.model_path.exists()
    assert main(["evaluate", "latest", "--runs-dir", str(runs_dir)]) == 2


def test_a_crashed_run_is_never_listed_as_complete(tiny_run: Run, runs_dir: Path) -> None:
    run = install_run(tiny_run, runs_dir)
    (run.path / "status.json").write_text('{"state": "running"}')  # as if killed mid-way
    assert not list_runs(runs_dir)[0].is_complete


def test_config_out_of_range_names_the_value_and_the_range(capsys) -> None:
    with pytest.raises(ConfigError, match=r"views=0 is not allowed: use from 1 to 32"):
        TrainConfig(views=0)
    with pytest.raises(SystemExit) as exited:  # the parser's own error: usage, sentence, 2
        main(["train", "--input-size", "200"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m tl_core train")
    assert "input_size=200 is not allowed: use from 32 to 96" in err


def test_every_config_setting_is_a_train_flag_with_its_help(capsys) -> None:
    from dataclasses import fields

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    for setting in fields(TrainConfig):
        assert f"--{setting.name.replace('_', '-')}" in usage, setting.name
        assert " ".join(setting.metadata["help"].split()) in usage, setting.name


def test_info_reports_data_weights_and_runs(capsys) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert (
        "embedded: 5,000 real digits" in out and "missing. Run `python -m tl_core prefetch`" in out
    )
    assert f"pretrained base for training: {EDGES_LABEL}" in out


def test_every_command_has_help(capsys) -> None:
    for command in [
        "train",
        "evaluate",
        "predict",
        "prefetch",
        "info",
        "bench",
        "loadtest",
        "compare",
        "drawn",
        "choices",
    ]:
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        assert "usage: python -m tl_core" in capsys.readouterr().out


def test_a_run_with_damaged_metrics_or_config_is_not_complete(
    tiny_run: Run, runs_dir: Path
) -> None:
    run = install_run(tiny_run, runs_dir, "1-damaged-metrics")
    (run.path / "metrics.json").write_text('{"test_accuracy": null}')
    assert not list_runs(runs_dir)[0].is_complete
    run = install_run(tiny_run, runs_dir, "2-damaged-config")
    (run.path / "config.json").unlink()
    assert not [r for r in list_runs(runs_dir) if r.is_complete]


def test_the_newest_complete_run_is_found_without_reading_the_older_ones(
    tiny_run: Run, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Draw page looks the model up on every stroke: a term's runs must not slow it."""
    for older in range(3):
        install_run(tiny_run, runs_dir, f"1-older-{older}")
    install_run(tiny_run, runs_dir, "2-newest")
    (runs_dir / "4-started").mkdir()  # newer, and not complete
    stopped = runs_dir / "3-stopped"
    shutil.copytree(runs_dir / "2-newest", stopped)
    runs.set_state(stopped, runs.STOPPED)
    read: list[str] = []
    read_run, read_optional = runs.read_run, runs._read_optional
    monkeypatch.setattr(
        runs, "read_run", lambda path, *status: read.append(path.name) or read_run(path, *status)
    )
    files: list[str] = []
    monkeypatch.setattr(
        runs,
        "_read_optional",
        lambda path: files.append(f"{path.parent.name}/{path.name}") or read_optional(path),
    )
    assert latest_complete_run(runs_dir).name == "2-newest"
    assert read == ["2-newest"]  # of the newer runs, only their status was read
    newer = ["4-started/status.json", "3-stopped/status.json"]
    assert [name for name in files if not name.startswith("2-")] == newer
    assert files.count("2-newest/status.json") == 1  # read once, not again for the run
    assert [run.name for run in list_runs(runs_dir)][-1] == "1-older-0"  # still all listed


def test_a_load_test_removes_only_the_unfinished_runs_its_server_started(
    tiny_run: Run, runs_dir: Path
) -> None:
    install_run(tiny_run, runs_dir, "1-complete")
    for name, pid, state in (("2-ours", 4242, STOPPED), ("3-another", 4343, STOPPED)):
        shutil.copytree(runs_dir / "1-complete", runs_dir / name)
        runs.set_state(runs_dir / name, state, pid=pid)
    shutil.copytree(runs_dir / "1-complete", runs_dir / "4-ours-complete")
    runs.set_state(runs_dir / "4-ours-complete", COMPLETE, pid=4242)
    assert remove_unfinished_runs(runs_dir, 4242) == [STOPPED]
    assert sorted(run.name for run in list_runs(runs_dir)) == [
        "1-complete",
        "3-another",
        "4-ours-complete",
    ]


@pytest.mark.slow
def test_fine_tuning_adds_epochs_after_the_head(runs_dir: Path) -> None:
    config = TrainConfig(
        data_source="embedded",
        weights="random",
        per_class=3,
        test_per_class=2,
        epochs=1,
        fine_tune=True,
        fine_tune_epochs=1,
    )
    run = train(config, runs_dir).run
    assert [(row["epoch"], row["phase"]) for row in run.history] == [(1, "train"), (2, "fine-tune")]
    assert run.is_complete


@pytest.mark.slow  # a few trainings: with the slow tests, in CI
def test_the_time_estimate_comes_from_this_machines_measured_speed(runs_dir: Path) -> None:
    from tl_core.pipeline.train import estimate_seconds, measure_speed

    speed = measure_speed(TINY)
    assert speed.images_per_s > 0 and speed.head_digits_per_s > 0 and speed.setup_s > 0
    run = train(TINY, runs_dir).run  # measured now, beside the probe, on the same machine
    estimate = estimate_seconds(TINY, run.status["train_digits"], run.status["test_digits"], speed)
    assert 0.25 < estimate / run.metrics["seconds"] < 4
