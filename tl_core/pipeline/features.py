"""Step 5, bottleneck features: run the frozen base once per image and keep its output.

The frozen base is almost all of the cost (measured on 2 cores at 32x32: about 600 images/s
in float32, 1,200 in bfloat16), and its output never changes while only the head trains.
So each image (and each augmented view) goes through the base once, the features are
cached on disk, and the head trains on them.

The cache key is a hash of the images themselves plus the input size and the weights'
identity: anything that changes the features (data, subset, augmentation settings or seed,
input size, weights) changes the key, so a stale cache can never be read.
"""

import functools
import hashlib
import json
import logging
import os
import platform
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tl_core.errors import TrainingStopped
from tl_core.files import file_digest, read_json, write_atomic, write_json
from tl_core.i18n import Text
from tl_core.paths import digitlab_home
from tl_core.pipeline.model import (
    bfloat16_copy,
    build_base_model,
    cpu_fields,
    cpu_has_bfloat16,
    weights_fingerprint,
)
from tl_core.pipeline.preprocess import to_model_input
from tl_core.pipeline.weights import resolve_weights

FEATURE_BATCH = 64  # 64 to 512 extract as fast; a short batch lets a drawing in sooner
STREAMS = 2  # batches in flight at once (extract_features)
CACHE_FORMAT = 1
PRECISION_ENV = "DIGITLAB_PRECISION"
PROBE_IMAGES = 256  # per precision and try: about a second each on 2 cores
BFLOAT16_MARGIN = 1.15  # bfloat16 must be this much faster to be worth its rounding
log = logging.getLogger(__name__)

OnBatch = Callable[[int], None]


def feature_extractor(
    base_model: keras.Model, input_size: int, precision: str = "float32"
) -> Callable:
    """A compiled function: uint8 digits (N, 28, 28) -> float32 features (N, h, w, 512).

    Preprocessing runs inside the same graph, so one call does the whole step. With
    precision "bfloat16" a bfloat16 copy of the base runs and its output is widened to
    float32, so the cache and the head see one dtype. Measured on 2 cores at 32x32: 1.4x
    the throughput of `model.predict` in float32 (no per-batch dispatch), about 3x in
    bfloat16; `jit_compile=True` was 9x slower.
    """
    if precision == "bfloat16":
        base_model = bfloat16_copy(base_model)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.uint8)])  # traced once
    def extract(digits: tf.Tensor) -> tf.Tensor:
        features = base_model(to_model_input(digits, input_size), training=False)
        return tf.cast(features, tf.float32)

    return extract


def resolve_precision(precision: str = "auto") -> str:
    """The precision the base computes in: "bfloat16" or "float32".

    "auto" is float32 on a CPU without bfloat16 instructions (emulated, it is slow), and
    otherwise whichever this machine measured faster (`measured_precision`): CPUs that
    report `avx512_bf16` differ: AMD EPYCs here extracted 1.7x to 2x faster in bfloat16, an
    Intel Xeon without AMX slower. $DIGITLAB_PRECISION=float32 makes "auto" float32 on any
    CPU: the path of most laptops, to measure or test it on a machine that has bfloat16.
    """
    if precision != "auto":
        return precision
    if os.environ.get(PRECISION_ENV) in ("float32", "bfloat16"):
        return os.environ[PRECISION_ENV]
    return measured_precision() if cpu_has_bfloat16() else "float32"


def measured_precision() -> str:
    """The faster precision on this machine, probed once and remembered in
    `~/.digitlab/cache/precision.json` per CPU, core count and TensorFlow version."""
    machine = _machine_key()
    path = digitlab_home() / "cache" / "precision.json"
    try:
        known = read_json(path)
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):  # a damaged file: measure again
        known = {}
    record = known.get(machine)
    if not isinstance(record, dict) or record.get("faster") not in ("float32", "bfloat16"):
        known[machine] = _probe_precision()
        try:
            write_json(path, known)
        except OSError as error:
            log.warning("Could not remember the precision probe (%s).", error)
    return known[machine]["faster"]


@functools.cache
def _probe_precision() -> dict[str, object]:
    """Time the default cut of the base at 32 px in both precisions, best of two tries each
    (once per process: a test session with fresh homes probes once)."""
    base_model = build_base_model(32, resolve_weights("random"))
    digits = probe_digits(PROBE_IMAGES)
    rates = {}
    for precision in ("float32", "bfloat16"):
        extract = feature_extractor(base_model, 32, precision)
        extract_features(extract, digits[:FEATURE_BATCH])  # traces the graph
        seconds = []
        for _ in range(2):
            started = time.perf_counter()
            extract_features(extract, digits)
            seconds.append(time.perf_counter() - started)
        rates[precision] = round(PROBE_IMAGES / min(seconds), 1)
    faster = "bfloat16" if rates["bfloat16"] > BFLOAT16_MARGIN * rates["float32"] else "float32"
    return {"faster": faster, "images_per_s": rates}


def _machine_key() -> str:
    """What the probe's answer depends on: the CPU model, the cores and TensorFlow."""
    fields = cpu_fields()
    model_name = fields.get("model name") or platform.processor() or platform.machine()
    family = ""
    if "cpu family" in fields:
        family = f", family {fields['cpu family']} model {fields.get('model')}"
    return f"{model_name}{family} | {os.cpu_count()} cores | TensorFlow {tf.__version__}"


def probe_digits(count: int) -> np.ndarray:
    """`count` identical digits (a bar) for timing the base: its cost does not depend on
    the ink, so any digit will do."""
    digits = np.zeros((count, 28, 28), np.uint8)
    digits[:, 6:22, 12:16] = 255
    return digits


def extract_features(
    extract: Callable,
    digits: np.ndarray,
    on_batch: OnBatch | None = None,
    stop: threading.Event | None = None,
) -> np.ndarray:
    """Features of every digit, in batches, STREAMS batches at a time; `on_batch(n)` reports
    n more images done (one report at a time, so a caller's count needs no lock).

    Two batches in flight kept both cores busy where one left them idle about 7% of the
    time, between one batch and the next and inside a batch's graph: 9% and 13% more
    images a second in two measurements on 2 cores (docs/performance.md), the same features
    to the bit. Raises TrainingStopped between batches once `stop` is set.
    """
    reporting = threading.Lock()

    def batch_features(start: int) -> np.ndarray:
        if stop is not None and stop.is_set():
            raise TrainingStopped(Text("Training was stopped while building features."))
        batch = digits[start : start + FEATURE_BATCH]
        features = extract(tf.constant(batch)).numpy()
        if on_batch is not None:
            with reporting:
                on_batch(len(batch))
        return features

    with ThreadPoolExecutor(STREAMS, thread_name_prefix="digit-lab-features") as pool:
        futures = [pool.submit(batch_features, s) for s in range(0, len(digits), FEATURE_BATCH)]
        try:
            return np.concatenate([future.result() for future in futures])
        except BaseException:
            pool.shutdown(cancel_futures=True)  # a stop or a failure: start no other batch
            raise


def features_identity(base_model: keras.Model, bottleneck: str, precision: str) -> str:
    """What a base's features depend on besides the digits and the input size: its actual
    weights (a hash of their values, so a loaded model's base matches the one it was
    trained with), where it was cut, and the precision it computed in."""
    return f"{weights_fingerprint(base_model)}-{bottleneck}-{precision}"


def cache_key(digits: np.ndarray, input_size: int, weights_identity: str) -> str:
    """A hash of everything the features depend on (see the module docstring)."""
    digest = hashlib.sha256()
    settings = {"format": CACHE_FORMAT, "input_size": input_size, "weights": weights_identity}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    digest.update(str(digits.shape).encode())
    digest.update(np.ascontiguousarray(digits).tobytes())
    return digest.hexdigest()[:32]


class FeatureCache:
    """Features on disk as `<key>.npy` plus `<key>.json` recording the size and sha256.

    A file that is truncated or altered fails the check, is deleted and is rebuilt.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, key: str) -> np.ndarray | None:
        """The cached features for `key`, or None if absent or damaged."""
        data_path, meta_path = self._paths(key)
        if not data_path.exists() and not meta_path.exists():
            return None
        try:
            meta = read_json(meta_path)
            if data_path.stat().st_size != meta["bytes"]:
                raise ValueError("size differs from the record")
            if file_digest(data_path, "sha256") != meta["sha256"]:
                raise ValueError("checksum differs from the record")
            return np.load(data_path, allow_pickle=False)
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("Feature cache %s is damaged (%s); rebuilding it.", data_path, error)
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None

    def save(self, key: str, features: np.ndarray) -> None:
        """Store features atomically; the record is written last, so it vouches for the data."""
        data_path, meta_path = self._paths(key)
        write_atomic(data_path, lambda handle: np.save(handle, features, allow_pickle=False))
        meta = {
            "bytes": data_path.stat().st_size,
            "sha256": file_digest(data_path, "sha256"),
            "shape": list(features.shape),
        }
        write_json(meta_path, meta)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.npy", self.folder / f"{key}.json"


def cached_features(
    cache: FeatureCache | None,
    extract: Callable,
    digits: np.ndarray,
    key: str,
    on_batch: OnBatch | None = None,
    stop: threading.Event | None = None,
) -> tuple[np.ndarray, bool]:
    """Features from the cache if there, else computed and stored. Returns (features, hit)."""
    if cache is not None:
        features = cache.load(key)
        if features is not None:
            if on_batch is not None:
                on_batch(len(digits))
            return features, True
    features = extract_features(extract, digits, on_batch, stop)
    if cache is not None:
        try:
            cache.save(key, features)
        except OSError as error:
            log.warning("Could not write the feature cache (%s); training goes on without.", error)
    return features, False
