"""Shared fixtures: every test runs offline, with its own Digit Lab and Keras homes."""

import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# pytest captures standard error itself: no log filter in the test process (tl_core.quiet);
# test_quiet runs the CLI without this.
os.environ.setdefault("DIGITLAB_VERBOSE", "1")

import h5py
import keras
import pytest
from helpers import TINY, install_run
from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

from tl_core.pipeline.features import FeatureCache
from tl_core.pipeline.runs import Run

pytest_plugins = ["containers"]  # the podman engine and the image, for -k container / cluster


def pytest_report_header() -> str:
    """This machine's float32 matmul rate, so a session's times can be judged against the
    README's test time and the rate docs/performance.md gives with it."""
    from tl_core.tools.bench import float32_matmul_rate

    return f"float32 matmul: {float32_matmul_rate():.0f} GFLOP/s on {os.cpu_count()} cores"


@pytest.fixture(autouse=True)
def isolated_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs, caches and Keras downloads go to a fresh folder, never the user's."""
    monkeypatch.setenv("DIGITLAB_HOME", str(tmp_path / "digitlab"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("DIGITLAB_WEIGHTS", raising=False)
    monkeypatch.delenv("DIGITLAB_TEACHER_PASSCODE", raising=False)  # a teacher's own shell
    monkeypatch.setenv("DIGITLAB_OFFLINE", "1")  # the same result with or without internet
    return tmp_path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One TINY run, trained once per test session, for the tests that only need a model.

    Tests take a copy (`trained_run`), so none can change what another one sees.
    """
    from tl_core.pipeline.train import train

    home = tmp_path_factory.mktemp("tiny-run")
    return train(TINY, home / "runs", cache=FeatureCache(home / "cache")).run


@pytest.fixture
def trained_run(tiny_run: Run, isolated_homes: Path) -> Run:
    """A copy of the session's TINY run in this test's own default runs folder."""
    return install_run(tiny_run, isolated_homes / "digitlab" / "runs")


@pytest.fixture(scope="session")
def vgg16_weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VGG16 no-top weights file in the same legacy HDF5 layout as the ImageNet file.

    The values are a seeded random init (the real file can't be downloaded here); the
    loading code is the same one that reads the ImageNet file.
    """
    keras.utils.set_random_seed(1)
    base_model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path_factory.mktemp("weights") / "vgg16_notop.h5"
    with h5py.File(path, "w") as handle:
        save_weights_to_hdf5_group(handle, base_model)
    return path


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class FileServer:
    """An HTTP server on 127.0.0.1 serving fixed bytes at fixed paths (a stand-in internet)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def teacher_passcode(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A server started with a teacher passcode: its key and job are made anew, then
    forgotten (both live once per process, outside Streamlit's caches)."""
    from tl_core.serving import access, jobs

    monkeypatch.setenv("DIGITLAB_TEACHER_PASSCODE", "owl-in-the-oak")
    monkeypatch.setattr(access, "_SERVER_KEY", None)
    monkeypatch.setattr(jobs, "_SERVER_JOB", None)
    yield "owl-in-the-oak"
