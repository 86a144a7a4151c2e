"""Beyond one laptop: cloud mode's limits, the address students join, the model to take
home (TensorFlow Lite parity). The container is tests/test_container.py."""

import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_app import page, texts

from tl_core.config import TrainConfig
from tl_core.errors import ConfigError
from tl_core.pipeline.drawn import drawn_digit_set
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.preprocess import to_model_input
from tl_core.pipeline.runs import Run, load_model
from tl_core.serving.export import exports_dir, keras_bytes, tflite_bytes
from tl_core.serving.hosting import (
    CLOUD_ENV,
    check_limits,
    hosting_limits,
    join_address,
    qr_png,
)
from tl_core.serving.jobs import ServerJob

ROOT = Path(__file__).resolve().parents[1]


def test_cloud_mode_is_on_where_a_host_puts_the_app_and_by_one_setting(tmp_path: Path) -> None:
    laptop = tmp_path / "digit-lab"
    assert not hosting_limits({}, laptop).cloud
    assert hosting_limits({CLOUD_ENV: "1"}, laptop).cloud_reason == f"{CLOUD_ENV}=1"
    assert "Hugging Face" in hosting_limits({"SPACE_ID": "school/digits"}, laptop).cloud_reason
    community = hosting_limits({}, Path("/mount/src/digit-lab"))
    assert "Community Cloud" in community.cloud_reason
    assert not hosting_limits({CLOUD_ENV: "0", "SPACE_ID": "x"}, laptop).cloud  # off wins


def test_a_container_with_a_small_memory_limit_turns_cloud_mode_on_by_itself(
    tmp_path: Path,
) -> None:
    laptop, limit = tmp_path / "digit-lab", tmp_path / "memory.max"
    for value, cloud in (("3221225472\n", True), ("max\n", False), ("17179869184", False)):
        limit.write_text(value)
        assert hosting_limits({}, laptop, (limit,)).cloud is cloud, value
    limit.write_text("3221225472")
    assert hosting_limits({}, laptop, (limit,)).cloud_reason == (
        "a container limited to 3.0 GB of memory"
    )
    assert not hosting_limits({CLOUD_ENV: "0"}, laptop, (limit,)).cloud  # off still wins
    assert not hosting_limits({}, laptop, (tmp_path / "none",)).cloud  # no cgroup: a laptop


def test_a_hosted_classroom_refuses_trainings_its_small_server_cannot_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = hosting_limits({CLOUD_ENV: "1"})
    check_limits(TrainConfig(per_class=400, views=2), limits)  # the app's quick run fits
    with pytest.raises(ConfigError, match=r"at most 500 digits per class \(you asked for all"):
        check_limits(TrainConfig(per_class=None), limits)
    with pytest.raises(ConfigError, match="500 digits per class with 4 views is 20,000 images"):
        check_limits(TrainConfig(per_class=500, views=4), limits)
    with pytest.raises(ConfigError, match="400 digits per class and 1,500 class drawings"):
        check_limits(TrainConfig(per_class=400, views=2), limits, class_drawings=1500)
    with pytest.raises(ConfigError, match="people's digits"):  # 20 writers: about 5,000 more digits
        check_limits(TrainConfig(per_class=400, views=2, include_people=True), limits)
    check_limits(TrainConfig(per_class=None), hosting_limits({}))  # a laptop: no limits
    monkeypatch.setenv(CLOUD_ENV, "1")
    with pytest.raises(ConfigError, match="at most 500"):
        ServerJob().start(TrainConfig(per_class=None))  # the job itself refuses


def test_home_shows_a_hosted_classrooms_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLOUD_ENV, "1")
    app = page("home")
    assert "Hosted classroom" in texts(app) and "at most 500 digits per class" in texts(app)
    app.switch_page("pages/compare.py").run()
    assert "300" not in [str(o) for o in app.select_slider[0].options]  # Compare's budget too


def test_the_join_address_is_where_the_server_listens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert join_address("127.0.0.1", 8501, environ={}) is None  # this computer only
    assert join_address("192.168.1.20", 8502, environ={}) == "http://192.168.1.20:8502"
    hosted = "https://digit-lab.streamlit.app/"
    assert join_address("", 8501, hosted, environ={}) == "https://digit-lab.streamlit.app"
    monkeypatch.setattr("tl_core.serving.hosting.network_address", lambda: "10.0.0.7")
    monkeypatch.setattr("tl_core.serving.hosting.CONTAINER_MARK", tmp_path / "no-such-file")
    for local in ("http://localhost:8501/", "http://0.0.0.0:8501", "http://[::1]:8501"):
        assert join_address("0.0.0.0", 8501, local, environ={}) == "http://10.0.0.7:8501"
    monkeypatch.setattr("tl_core.serving.hosting.CONTAINER_MARK", tmp_path)  # in a container
    assert join_address("0.0.0.0", 8501, "http://localhost:8501/", environ={}) is None
    told = {"DIGITLAB_JOIN_URL": "http://192.168.1.5:8501/"}
    assert join_address("0.0.0.0", 8501, None, told) == "http://192.168.1.5:8501"
    png = qr_png("http://10.0.0.7:8501")
    assert png.startswith(b"\x89PNG") and len(png) > 200


def tflite_probabilities(model: bytes, digits: np.ndarray) -> np.ndarray:
    """Run a TensorFlow Lite model on uint8 digits (N, 28, 28), as the README's snippet
    does: (N, 10) probabilities."""
    interpreter = tf.lite.Interpreter(model_content=model)
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], list(digits.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], digits)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.slow  # a TensorFlow Lite conversion: with the slow tests, in CI
def test_the_tflite_model_gives_the_apps_probabilities(trained_run: Run) -> None:
    predictor = Predictor(load_model(trained_run))
    digits = drawn_digit_set().x  # 600 drawings, prepared as the canvas prepares them
    model = tflite_bytes(trained_run, predictor)
    difference = np.abs(tflite_probabilities(model, digits) - predictor.probabilities(digits))
    print(
        f"TensorFlow Lite vs the app, 600 drawn digits: largest difference {difference.max():.2e}"
    )
    assert difference.max() <= 1e-3
    (cached,) = exports_dir().glob("*.tflite")
    started = time.perf_counter()
    assert tflite_bytes(trained_run, predictor) == model == cached.read_bytes()
    assert time.perf_counter() - started < 1  # converted once, then read from disk


def test_a_downloaded_keras_model_loads_in_safe_mode(trained_run: Run, tmp_path: Path) -> None:
    path = tmp_path / "digit-lab.keras"
    path.write_bytes(keras_bytes(trained_run))
    model = keras.saving.load_model(path, safe_mode=True)
    digits = drawn_digit_set().x[:20]
    served = Predictor(load_model(trained_run)).probabilities(digits)
    own = model.predict(to_model_input(digits, model.input_shape[1]), verbose=0)
    assert np.allclose(own, served, atol=1e-5)
