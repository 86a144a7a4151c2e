"""Step 6, train: the whole transfer-learning run, from data to a saved model.

1. Load the digits and take the sample budget (plus the people's training writers, if asked).
2. Build the frozen VGG16 base (pretrained weights, or random ones: not transfer learning).
3. Augment: K views of every training digit (the augmentation bank: the digit itself and
   K-1 augmented copies) and one augmented copy of the test set, all seeded.
4. Run the base once per image and view: the bottleneck features (cached on disk).
5. Train the new head on the features; each epoch draws one view per digit.
6. Optionally fine-tune: unfreeze the base's top block, low learning rate, on-the-fly
   augmentation.
7. Evaluate on the clean and the augmented test set, on real people's digits from writers
   no run trains on (tl_core.pipeline.people) and on the drawn-digit set, and save the run.

Progress goes to a listener as ProgressEvent objects; a `threading.Event` stops the run
after the current batch, and the run folder is then marked "stopped", never "complete".
"""

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tl_core.config import TrainConfig
from tl_core.errors import RunError, TrainingStopped
from tl_core.i18n import Text
from tl_core.paths import feature_cache_dir
from tl_core.pipeline import runs
from tl_core.pipeline.augment import augment, augmentation_bank, augmented_test_set
from tl_core.pipeline.data import MnistData, load_budget
from tl_core.pipeline.drawn import drawn_set_for
from tl_core.pipeline.evaluate import run_metrics
from tl_core.pipeline.features import (
    FeatureCache,
    cache_key,
    cached_features,
    extract_features,
    feature_extractor,
    features_identity,
    probe_digits,
    resolve_precision,
)
from tl_core.pipeline.handwriting import add_handwriting, load_handwriting, split_held_out
from tl_core.pipeline.model import (
    build_base_model,
    build_full_model,
    build_head,
    compile_classifier,
    scale_features,
    unfreeze_top_block,
)
from tl_core.pipeline.people import add_people, people_test_set
from tl_core.pipeline.predict import Predictor
from tl_core.pipeline.preprocess import to_model_input
from tl_core.pipeline.weights import resolve_weights

PROBE_DIGITS = 256  # how many digits `measure_speed` runs through the base and the head
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress: `step` of `total` in `phase`; epoch ends carry `metrics`."""

    phase: str
    step: int
    total: int
    metrics: dict[str, float] | None = None
    message: str = ""


Listener = Callable[[ProgressEvent], None]


@dataclass
class TrainResult:
    """What a finished run produced; `features_cached` says the base was skipped entirely."""

    run: runs.Run
    seconds: float
    features_cached: bool


def train(
    config: TrainConfig,
    runs_dir: Path | None = None,
    listener: Listener | None = None,
    stop: threading.Event | None = None,
    cache: FeatureCache | None = None,
) -> TrainResult:
    """Run the whole pipeline and save a complete run; see the module docstring.

    Raises TrainingStopped if `stop` is set, after marking the run folder "stopped".
    """
    started = time.perf_counter()
    emit = listener or (lambda event: None)
    stop = stop or threading.Event()
    cache = cache or FeatureCache(feature_cache_dir())
    weights = resolve_weights(config.weights, config.seed)  # first: fail fast when missing
    emit(ProgressEvent("data", 0, 1, message=Text("Loading MNIST")))
    data = load_budget(config)
    if config.include_people:
        data = add_people(data)
    handwriting = split_held_out(load_handwriting())[0] if config.include_handwriting else None
    if handwriting is not None:
        data = add_handwriting(data, handwriting)
    precision = resolve_precision(config.precision)
    base_model = build_base_model(config.input_size, weights, config.seed, config.bottleneck)
    runs_dir = runs.resolve_runs_dir(runs_dir)
    runs.recover_interrupted(runs_dir)
    run_dir = runs.create_run(
        runs_dir,
        replace(config, data_source=data.kind, data_path=_absolute(config.data_path)),
        {
            "data_source": data.source,
            "weights": weights.label,
            "precision": precision,
            "bottleneck": config.bottleneck,
            "pooling": config.pooling,
            "include_people": config.include_people,
            "handwriting_digits": len(handwriting) if handwriting is not None else 0,
            "handwriting_trained": list(handwriting.names) if handwriting is not None else [],
            "train_digits": len(data.y_train),
            "test_digits": len(data.y_test),
        },
    )
    try:
        banks = _augmented_sets(data, config)
        features, all_cached = _bottleneck_features(
            banks, base_model, config, precision, cache, emit, stop
        )
        head = build_head(
            features["train"].shape[1:], config.head_units, config.seed, config.pooling
        )
        scale_features(head, features["train"])
        history = _train_head(head, features, data, config, emit, stop, run_dir)
        model = build_full_model(base_model, head)
        if config.fine_tune:
            _fine_tune(model, base_model, banks, data, config, emit, stop, run_dir, history)
        emit(ProgressEvent("evaluate", 0, 1, message=Text("Testing on clean and augmented digits")))
        metrics = _evaluate(model, head, features, banks, data, config)
        emit(ProgressEvent("save", 0, 1, message=Text("Saving the model")))
        metrics["seconds"] = round(time.perf_counter() - started, 2)
        metrics["features_cached"] = all_cached
        runs.finish_run(run_dir, model, metrics)
    except TrainingStopped:
        runs.set_state(run_dir, runs.STOPPED)
        raise
    except OSError as error:  # a full disk, a folder that turned read-only
        with contextlib.suppress(OSError):
            runs.set_state(run_dir, runs.FAILED, error=str(error))
        raise RunError(
            Text(
                "Writing the run failed ({error}), so it was not saved and the previous model "
                "stays in use. Free some disk space and train again.",
                error=str(error.strerror or error),
            )
        ) from error
    except BaseException as error:
        runs.set_state(run_dir, runs.FAILED, error=str(error))
        raise
    emit(ProgressEvent("done", 1, 1, metrics={"test_accuracy": metrics["test_accuracy"]}))
    return TrainResult(runs.read_run(run_dir), metrics["seconds"], all_cached)


@dataclass(frozen=True)
class Speed:
    """How fast this machine runs one setting, measured by `measure_speed`."""

    setup_s: float  # building the base and the head, tracing their graphs
    images_per_s: float  # the frozen base, at the setting's input size, cut and precision
    head_digits_per_s: float  # training the head, digits per second of one epoch


def measure_speed(config: TrainConfig) -> Speed:
    """Time a small probe of the setting on this machine: what the Train page estimates from.

    The base gets random weights (the same cost as ImageNet's, and always here), and the
    precision the run would use, so a CPU without bfloat16 measures its own float32 pace.
    """
    started = time.perf_counter()
    base_model = build_base_model(
        config.input_size, resolve_weights("random"), config.seed, config.bottleneck
    )
    extract = feature_extractor(base_model, config.input_size, resolve_precision(config.precision))
    digits = probe_digits(PROBE_DIGITS)
    extract_features(extract, digits[:1])  # traces the graph
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    features = extract_features(extract, digits)
    images_per_s = PROBE_DIGITS / (time.perf_counter() - started)
    started = time.perf_counter()
    head = build_head(features.shape[1:], config.head_units, config.seed, config.pooling)
    scale_features(head, features)
    batches = _batches(features, np.arange(PROBE_DIGITS) % 10, config.batch_size)
    steps = math.ceil(PROBE_DIGITS / config.batch_size)
    compile_classifier(head, config.learning_rate, steps_per_execution=steps)  # as _train_head
    head.fit(batches, verbose=0)  # builds the step: a fixed cost of every run, like the base's
    setup_s += time.perf_counter() - started
    started = time.perf_counter()
    head.fit(batches, verbose=0)
    head_digits_per_s = PROBE_DIGITS / (time.perf_counter() - started)
    return Speed(round(setup_s, 2), round(images_per_s, 1), round(head_digits_per_s, 1))


def estimate_seconds(
    config: TrainConfig, train_digits: int, test_digits: int, speed: Speed
) -> float:
    """The time of a run with nothing cached, from this machine's measured `speed`.

    The base sees every augmented view, the clean and augmented test digits, the people's
    test digits and the drawn digits; the head trains for the epochs; fine-tuning runs the
    base forwards and backwards (about three times the cost) over every training digit per
    epoch.
    """
    people = len(people_test_set(config.test_per_class, config.seed))
    images = (
        train_digits * config.views
        + 2 * test_digits
        + people
        + len(drawn_set_for(config.test_per_class))
    )
    seconds = speed.setup_s + images / speed.images_per_s
    seconds += train_digits * config.epochs / speed.head_digits_per_s
    if config.fine_tune:
        seconds += 3 * train_digits * config.fine_tune_epochs / speed.images_per_s
    return seconds


def _absolute(path: str | None) -> str | None:
    """Saved runs keep absolute data paths, so they reload from any working directory."""
    return str(Path(path).expanduser().resolve()) if path else None


def _augmented_sets(data: MnistData, config: TrainConfig) -> dict[str, np.ndarray]:
    """The image sets the base sees: the train bank (K views each), clean and augmented
    test, the people's test writers (as many per digit as MNIST test digits) and the
    drawn-digit set (tl_core.pipeline.drawn); no run ever trains on the last two."""
    return {
        "train": augmentation_bank(data.x_train, config.views, config.ranges, config.seed),
        "test_clean": data.x_test,
        "test_aug": augmented_test_set(data.x_test, config.ranges, config.seed),
        "people": people_test_set(config.test_per_class, config.seed).x,
        "drawn": drawn_set_for(config.test_per_class).x,
    }


def _bottleneck_features(
    banks: dict[str, np.ndarray],
    base_model: keras.Model,
    config: TrainConfig,
    precision: str,
    cache: FeatureCache,
    emit: Listener,
    stop: threading.Event,
) -> tuple[dict[str, np.ndarray], bool]:
    """Features of every image set, from the cache where possible; progress in images.

    Only the training bank uses `precision`: the sets the run is scored on are extracted in
    float32, as the saved model serves them, so the recorded accuracies are the served ones.
    """
    extractors = {
        name: feature_extractor(base_model, config.input_size, name)
        for name in {precision, "float32"}
    }
    identities = {
        name: features_identity(base_model, config.bottleneck, name) for name in extractors
    }
    total = sum(len(images) for images in banks.values())
    done = 0

    def on_batch(count: int) -> None:
        nonlocal done
        done += count
        emit(ProgressEvent("features", done, total, message=Text("Running the frozen base")))

    emit(ProgressEvent("features", 0, total, message=Text("Running the frozen base")))
    features, hits = {}, []
    for name, images in banks.items():
        used = precision if name == "train" else "float32"
        key = cache_key(images, config.input_size, identities[used])
        features[name], hit = cached_features(cache, extractors[used], images, key, on_batch, stop)
        hits.append(hit)
    return features, all(hits)


class _StopOnRequest(keras.callbacks.Callback):
    """Ends `fit` after the current batch once the stop event is set."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.stop.is_set():
            self.model.stop_training = True


def fit_epoch(
    model: keras.Model,
    x: object,
    y: np.ndarray | None,
    validation: tuple | object,
    batch_size: int | None,
    stop: threading.Event,
) -> dict[str, float]:
    """One epoch of `fit` in the order given (the caller shuffles, seeded, so a run repeats);
    raises TrainingStopped if a stop was requested during it."""
    logs = model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=1,
        validation_data=validation,
        shuffle=False,
        verbose=0,
        callbacks=[_StopOnRequest(stop)],
    ).history
    if stop.is_set():
        raise TrainingStopped(Text("Training was stopped; the run was not saved as complete."))
    return {name: round(float(logs[name][-1]), 5) for name in METRICS}


def _train_head(
    head: keras.Model,
    features: dict[str, np.ndarray],
    data: MnistData,
    config: TrainConfig,
    emit: Listener,
    stop: threading.Event,
    run_dir: Path,
) -> list[dict[str, float]]:
    """Train the head on bottleneck features; validation is the augmented test set.

    Each epoch draws one view per digit in a fresh seeded order. The head's own arithmetic is
    tiny, so the cost is Keras's bookkeeping: batches come as `tf.data` datasets (validation
    built once) and a whole epoch runs in one graph call, 0.4 s an epoch on 2 cores where
    NumPy arrays and a call per step took 0.9 s, a sixth of a default run. The batches and
    their order are the same either way, and so is the trained head.
    """
    bank = features["train"].reshape(len(data.y_train), config.views, *features["train"].shape[1:])
    rng = np.random.default_rng([config.seed, 3])
    validation = _batches(features["test_aug"], data.y_test, config.batch_size)
    steps = math.ceil(len(data.y_train) / config.batch_size)
    compile_classifier(head, config.learning_rate, steps_per_execution=steps)
    history: list[dict[str, float]] = []
    emit(ProgressEvent("train", 0, config.epochs, message=Text("Training the head")))
    for epoch in range(config.epochs):
        order = rng.permutation(len(data.y_train))
        views = rng.integers(config.views, size=len(data.y_train))
        batches = _batches(bank[order, views], data.y_train[order], config.batch_size)
        metrics = fit_epoch(head, batches, None, validation, None, stop)
        history.append({"epoch": epoch + 1, "phase": "train", **metrics})
        runs.save_history(run_dir, history)
        emit(ProgressEvent("train", epoch + 1, config.epochs, metrics))
    return history


def _batches(x: np.ndarray, y: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Features and labels in batches, in the order given."""
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


class _DigitBatches(keras.utils.PyDataset):
    """Batches of model inputs from uint8 digits, freshly augmented each epoch if asked."""

    def __init__(
        self, digits: np.ndarray, labels: np.ndarray, config: TrainConfig, augmented: bool
    ) -> None:
        super().__init__()
        self.digits, self.labels, self.config, self.augmented = digits, labels, config, augmented
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.config.batch_size)

    def __getitem__(self, index: int) -> tuple:
        size = self.config.batch_size
        digits = self.digits[index * size : (index + 1) * size]
        if self.augmented:
            c = self.config
            digits = augment(digits, c.ranges, [c.seed, 4, self.epoch, index])
        labels = self.labels[index * size : (index + 1) * size]
        return to_model_input(digits, self.config.input_size), labels

    def on_epoch_end(self) -> None:
        self.epoch += 1


def _fine_tune(
    model: keras.Model,
    base_model: keras.Model,
    banks: dict[str, np.ndarray],
    data: MnistData,
    config: TrainConfig,
    emit: Listener,
    stop: threading.Event,
    run_dir: Path,
    history: list[dict[str, float]],
) -> None:
    """After the head has converged: unfreeze the base's top block, recompile with a low rate,
    train end to end.

    Recompiling is required: `trainable` changes take effect only at compile time. Epoch rows
    are appended to `history`, after the head's.
    """
    unfreeze_top_block(base_model)
    compile_classifier(model, config.fine_tune_learning_rate)
    train_batches = _DigitBatches(data.x_train, data.y_train, config, augmented=True)
    validation = _DigitBatches(banks["test_aug"], data.y_test, config, augmented=False)
    message = Text("Fine-tuning {block}", block=config.bottleneck)
    emit(ProgressEvent("fine-tune", 0, config.fine_tune_epochs, message=message))
    for epoch in range(config.fine_tune_epochs):
        metrics = fit_epoch(model, train_batches, None, validation, None, stop)
        history.append({"epoch": config.epochs + epoch + 1, "phase": "fine-tune", **metrics})
        runs.save_history(run_dir, history)
        emit(ProgressEvent("fine-tune", epoch + 1, config.fine_tune_epochs, metrics))
    base_model.trainable = False


def _evaluate(
    model: keras.Model,
    head: keras.Model,
    features: dict[str, np.ndarray],
    banks: dict[str, np.ndarray],
    data: MnistData,
    config: TrainConfig,
) -> dict[str, object]:
    """Clean and augmented test accuracy, people's and drawn-digit accuracy; from cached
    features unless the base was tuned."""
    probabilities = {
        name: Predictor(model).probabilities(banks[name])
        if config.fine_tune
        else head.predict(features[name], batch_size=1024, verbose=0)
        for name in ("test_clean", "test_aug", "people", "drawn")
    }
    people = people_test_set(config.test_per_class, config.seed).y
    return run_metrics(probabilities, data.y_test, people, drawn_set_for(config.test_per_class).y)
