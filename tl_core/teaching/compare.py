"""Ways to transfer, compared on the same digits: the claims of the lecture, measured.

Five strategies, each trained on the same data budget and augmentation, each giving a
validation accuracy curve (augmented test digits), a clean test accuracy, the accuracy on
real people's digits from writers no run trains on (tl_core.pipeline.people) and on the
drawn-digit set (tl_core.pipeline.drawn). The small CNNs see digits deskewed as VGG16 does
(preprocess.deskew), so every strategy reads the same prepared digits:

- "pretrained": frozen VGG16 with pretrained weights + new head (transfer learning): ImageNet
  where this machine has them, else ImageNet then edge detection (weights.resolve_weights);
- "fine-tune": the same, then the base's top block fine-tuned at a low learning rate;
- "random": frozen VGG16 with random weights + new head (the network without pretraining);
- "scratch": a small CNN trained from scratch on the digits;
- "develop": the "develop a model" approach: a small CNN trained on digits 0-4, its
  convolutional layers frozen, a new head trained on digits 5-9 (fully offline).

Strategies that need pretrained weights come back unavailable, with the reason, when no
pretrained weights are installed. Every result is cached on disk per setting, so a class
can revisit it.
"""

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tl_core.config import BOTTLENECKS, TrainConfig
from tl_core.errors import WeightsUnavailable, message_of
from tl_core.files import read_json, write_json
from tl_core.i18n import N_, Text
from tl_core.paths import digitlab_home
from tl_core.pipeline.augment import augmentation_bank, augmented_test_set
from tl_core.pipeline.data import MnistData, load_mnist, take_budget
from tl_core.pipeline.drawn import drawn_set_for
from tl_core.pipeline.model import compile_classifier
from tl_core.pipeline.people import people_test_set
from tl_core.pipeline.preprocess import deskew
from tl_core.pipeline.train import train
from tl_core.pipeline.weights import SENTENCES, label_text, resolve_weights

STRATEGIES = {  # shown as `_(STRATEGIES[key])`
    "pretrained": N_("Frozen VGG16, pretrained weights + new head"),
    "fine-tune": N_("Frozen VGG16, pretrained weights + new head, then fine-tune its top block"),
    "random": N_("Frozen VGG16, random weights + new head (no pretraining)"),
    "scratch": N_("Small CNN trained from scratch"),
    "develop": N_("Small CNN trained on digits 0-4, frozen, new head on 5-9"),
}
WITH_WEIGHTS = {  # the pretrained strategies, naming the weights this machine had
    "pretrained": N_("Frozen {weights} + new head"),
    "fine-tune": N_("Frozen {weights} + new head, then fine-tune its top block"),
}
SOURCE_DIGITS, TARGET_DIGITS = range(0, 5), range(5, 10)
CACHE_FORMAT = 5  # 4: people's digits, pretrained weights; 5: small CNNs in a seeded order
Listener = Callable[[str], None]
Report = Callable[[int, int, str], None]  # step, total, message (serving.jobs.ServerJob)


@dataclass(frozen=True)
class CompareSettings:
    """The shared budget: digits per class, epochs and augmentation for every strategy."""

    per_class: int = 100
    test_per_class: int = 50
    epochs: int = 10
    data_source: str = "auto"
    data_path: str | None = None
    bottleneck: str = TrainConfig.bottleneck
    seed: int = 0

    @classmethod
    def budget_of(cls, config: TrainConfig) -> "CompareSettings":
        """The same digits, test digits, epochs and data source as a run's `config`, so a
        small CNN is compared with that run on equal terms."""
        return cls(
            per_class=config.per_class or 0,  # 0: all (take_budget)
            test_per_class=config.test_per_class or 0,
            epochs=config.epochs,
            data_source=config.data_source,
            data_path=config.data_path,
        )

    def train_config(self, weights: str, fine_tune: bool = False) -> TrainConfig:
        """The same settings as a TrainConfig for the VGG16 strategies."""
        return TrainConfig(
            data_source=self.data_source,
            data_path=self.data_path,
            per_class=self.per_class,
            test_per_class=self.test_per_class,
            epochs=self.epochs,
            weights=weights,
            fine_tune=fine_tune,
            bottleneck=self.bottleneck,
            seed=self.seed,
        )


@dataclass
class StrategyResult:
    """One strategy's outcome; `reason` says why it is unavailable when it is."""

    key: str
    label: str
    available: bool
    reason: str = ""
    val_accuracy: list[float] = field(default_factory=list)
    test_accuracy: float | None = None
    people_accuracy: float | None = None
    drawn_accuracy: float | None = None
    seconds: float | None = None
    cached: bool = False  # read back from the saved results, not trained now


def compare(
    settings: CompareSettings,
    keys: tuple[str, ...] = tuple(STRATEGIES),
    listener: Listener | None = None,
    cache_dir: Path | None = None,
) -> list[StrategyResult]:
    """Train each strategy (or read it from the cache) and return them in `keys` order."""
    emit = listener or (lambda message: None)
    results = []
    for key in keys:
        emit(Text("{strategy}…", strategy=Text(STRATEGIES[key])))
        results.append(_cached(key, settings, cache_dir))
    return results


def data_size_sweep(
    settings: CompareSettings,
    per_class_values: tuple[int, ...],
    keys: tuple[str, ...],
    listener: Listener | None = None,
    cache_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Test accuracy on MNIST and on people's digits against training digits per class: one
    point per strategy and size.

    Unavailable strategies are left out; each point comes from the cache when it is there.
    """
    points = []
    for per_class in per_class_values:
        for result in compare(replace(settings, per_class=per_class), keys, listener, cache_dir):
            if result.available:
                points.append(
                    {
                        "strategy": result.key,
                        "per_class": per_class,
                        "test_accuracy": result.test_accuracy,
                        "people_accuracy": result.people_accuracy,
                    }
                )
    return points


def comparison_work(
    settings: CompareSettings, keys: tuple[str, ...]
) -> Callable[[Report], list[StrategyResult]]:
    """The Compare page's strategies as work for the server's one heavy job."""
    return lambda report: compare(settings, keys, _counting(report, len(keys)))


def sweep_work(
    settings: CompareSettings, per_class_values: tuple[int, ...], keys: tuple[str, ...]
) -> Callable[[Report], list[dict[str, Any]]]:
    """The data-size sweep as work for the server's one heavy job."""
    total = len(per_class_values) * len(keys)
    return lambda report: data_size_sweep(
        settings, per_class_values, keys, _counting(report, total)
    )


def cuts_work(key: str) -> Callable[[Report], dict[str, StrategyResult]]:
    """One strategy cut after each block, as work for the server's one heavy job."""

    def work(report: Report) -> dict[str, StrategyResult]:
        listener = _counting(report, len(BOTTLENECKS))
        return {
            block: compare(CompareSettings(bottleneck=block), (key,), listener)[0]
            for block in BOTTLENECKS
        }

    return work


def _counting(report: Report, total: int) -> Listener:
    """A listener that reports each strategy it is told of as the next step of `total`."""
    done = 0

    def listener(message: str) -> None:
        nonlocal done
        report(done, total, message)
        done += 1

    return listener


def compare_cache_dir() -> Path:
    return digitlab_home() / "cache" / "compare"


def _cached(key: str, settings: CompareSettings, cache_dir: Path | None) -> StrategyResult:
    """A result from the cache when every input was the same before, else trained and stored.

    Unavailable results are never stored: once the weights are there, they run.
    """
    try:
        identity = result_key(key, settings)
    except WeightsUnavailable as error:
        return _unavailable(key, error)
    path = (cache_dir or compare_cache_dir()) / f"{identity}.json"
    try:
        result = StrategyResult(**{**read_json(path), "cached": True})
        return replace(result, label=strategy_label(key, result.label))
    except (OSError, ValueError, TypeError):
        pass
    result = _run(key, settings)
    if result.available:
        write_json(path, asdict(result))
    return result


def _unavailable(key: str, error: WeightsUnavailable) -> StrategyResult:
    """The strategy can't run here: its first sentence says why (no pretrained weights)."""
    reason = message_of(error)
    while isinstance(reason, Text) and reason.message == SENTENCES:
        reason = reason.values["first"]
    if not isinstance(reason, Text):
        reason = str(reason).split(". ")[0] + "."
    return StrategyResult(key, Text(STRATEGIES[key]), False, reason=reason)


def strategy_label(key: str, label: str = "") -> str:
    """A strategy's label as a `Text`, read in each reader's language: `label` is the one a
    result was saved with (English), naming the pretrained weights the machine had."""
    if not label or label == STRATEGIES[key]:
        return Text(STRATEGIES[key])
    if key in WITH_WEIGHTS:
        before, after = WITH_WEIGHTS[key].split("{weights}")
        if label.startswith(before) and label.endswith(after) and len(label) > len(before + after):
            weights = label[len(before) : len(label) - len(after)]
            return Text(WITH_WEIGHTS[key], weights=label_text(weights))
    return label


def result_key(key: str, settings: CompareSettings) -> str:
    """A hash of everything a strategy's result depends on: the strategy and settings, the
    digits themselves (so the data source, its size and any change to its files count), the
    people's and drawn digits, and for pretrained VGG16 the weights file's checksum.

    Raises WeightsUnavailable when the strategy needs pretrained weights this machine lacks.
    """
    data = _budget(settings)
    digest = hashlib.sha256()
    people = people_test_set(settings.test_per_class, settings.seed)
    arrays = (
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
        people.x,
        drawn_set_for(settings.test_per_class).x,
    )
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    pretrained = key in ("pretrained", "fine-tune")
    weights = resolve_weights("pretrained").identity if pretrained else key
    inputs = {"format": CACHE_FORMAT, "key": key, **asdict(settings), "weights": weights}
    digest.update(json.dumps(inputs, sort_keys=True).encode())
    return digest.hexdigest()[:24]


def _run(key: str, settings: CompareSettings) -> StrategyResult:
    started = time.perf_counter()
    label = Text(STRATEGIES[key])
    try:
        if key in ("pretrained", "fine-tune", "random"):
            weights = "random" if key == "random" else "pretrained"
            config = settings.train_config(weights, fine_tune=key == "fine-tune")
            scores, weights_label = _vgg16(config)
            if key != "random":  # say which pretrained weights this machine had
                label = Text(WITH_WEIGHTS[key], weights=label_text(weights_label))
        elif key == "scratch":
            scores = _scratch(settings)
        else:
            scores = _develop(settings)
    except WeightsUnavailable as error:
        return _unavailable(key, error)
    seconds = round(time.perf_counter() - started, 1)
    return StrategyResult(key, label, True, "", *scores, seconds=seconds)


# The validation curve, then clean test, people's and drawn-digit accuracy.
Scores = tuple[list[float], float, float, float]


def _vgg16(config: TrainConfig) -> tuple[Scores, str]:
    """The project's own pipeline, its run kept out of the class's runs folder; the scores
    and the label of the weights it used."""
    with tempfile.TemporaryDirectory(prefix="digitlab-compare-") as runs_dir:
        run = train(config, Path(runs_dir)).run
    metrics = run.metrics
    scores = (
        [row["val_accuracy"] for row in run.history],
        metrics["test_accuracy"],
        metrics["people_accuracy"],
        metrics["drawn_accuracy"],
    )
    return scores, run.status["weights"]


def _budget(settings: CompareSettings) -> MnistData:
    data = load_mnist(settings.data_source, settings.data_path)
    return take_budget(data, settings.per_class, settings.test_per_class, settings.seed)


def small_cnn(classes: int = 10, seed: int = 0) -> keras.Model:
    """A small convolutional network for 28x28 digits: two conv blocks, then a dense head.

    The convolutional layers are named "conv*", the head "head_*", so a part can be frozen.
    Initial weights come from `seed`, never from the global random state.
    """

    def init(offset: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=seed * 10 + offset)

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1", kernel_initializer=init(1)),
            keras.layers.MaxPooling2D(name="conv1_pool"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2", kernel_initializer=init(2)),
            keras.layers.MaxPooling2D(name="conv2_pool"),
            keras.layers.Flatten(name="conv_flatten"),
            keras.layers.Dense(
                128, activation="relu", name="head_dense", kernel_initializer=init(3)
            ),
            keras.layers.Dense(
                classes, activation="softmax", name="head_output", kernel_initializer=init(4)
            ),
        ],
        name="small_cnn",
    )


def freeze_features_new_head(source: keras.Model, classes: int, seed: int = 0) -> keras.Model:
    """The develop-model step: keep `source`'s conv layers frozen, add a new trainable head."""
    features = keras.Model(source.inputs, source.get_layer("conv_flatten").output)
    features.trainable = False
    inputs = keras.Input((28, 28, 1))
    x = features(inputs, training=False)
    init = keras.initializers.GlorotUniform
    x = keras.layers.Dense(
        128, activation="relu", name="new_head_dense", kernel_initializer=init(seed * 10 + 5)
    )(x)
    outputs = keras.layers.Dense(
        classes,
        activation="softmax",
        name="new_head_output",
        kernel_initializer=init(seed * 10 + 6),
    )(x)
    return keras.Model(inputs, outputs, name="developed")


def _fit(
    model: keras.Model,
    train_set: tuple[np.ndarray, np.ndarray],
    val_set: tuple[np.ndarray, np.ndarray],
    scored: tuple[tuple[np.ndarray, np.ndarray], ...],
    epochs: int,
    seed: int,
) -> Scores:
    """Adam, as the VGG16 head; returns the validation curve and the accuracy on each of
    the `scored` sets (clean test, people's, drawn)."""
    compile_classifier(model)
    curve = _seeded_epochs(model, train_set, epochs, seed, val_set)
    test, people, drawn = (round(float(model.evaluate(*s, verbose=0)[1]), 5) for s in scored)
    return curve, test, people, drawn


def _seeded_epochs(
    model: keras.Model,
    train_set: tuple[np.ndarray, np.ndarray],
    epochs: int,
    seed: int,
    val_set: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[float]:
    """Train `epochs` epochs, each in an order drawn from `seed` (Keras's own shuffle is
    unseeded, so the same setting gave other scores run to run); returns the validation
    accuracy per epoch when there is a validation set."""
    x, y = train_set
    rng = np.random.default_rng([seed, 5])
    curve = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        logs = model.fit(
            x[order], y[order], batch_size=64, validation_data=val_set, shuffle=False, verbose=0
        ).history
        if val_set is not None:
            curve.append(round(float(logs["val_accuracy"][-1]), 5))
    return curve


@dataclass(frozen=True)
class _Sets:
    """What the small CNNs train and test on, deskewed: (images, labels) pairs."""

    train: tuple[np.ndarray, np.ndarray]
    test_aug: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    people: tuple[np.ndarray, np.ndarray]
    drawn: tuple[np.ndarray, np.ndarray]

    @property
    def scored(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        return self.test, self.people, self.drawn

    def only(self, digits: range) -> "_Sets":
        """The rows of `digits` alone, relabelled from 0 (the develop strategy's target task)."""

        def pick(pair: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            rows = np.isin(pair[1], digits)
            return pair[0][rows], pair[1][rows] - digits.start

        return _Sets(*(pick(pair) for pair in (self.train, self.test_aug, *self.scored)))


def _small_cnn_sets(settings: CompareSettings) -> _Sets:
    """Train bank (2 views), augmented and clean test, people's and drawn digits: a
    TrainConfig's ranges."""
    data = _budget(settings)
    config = TrainConfig()
    people = people_test_set(settings.test_per_class, settings.seed)
    bank = augmentation_bank(data.x_train, config.views, config.ranges, settings.seed)
    test_aug = augmented_test_set(data.x_test, config.ranges, settings.seed)
    drawn = drawn_set_for(settings.test_per_class)

    def prepared(digits: np.ndarray) -> np.ndarray:
        return deskew(digits).numpy()[..., np.newaxis]

    return _Sets(
        (prepared(bank), np.repeat(data.y_train, config.views)),
        (prepared(test_aug), data.y_test),
        (prepared(data.x_test), data.y_test),
        (prepared(people.x), people.y),
        (prepared(drawn.x), drawn.y),
    )


def _scratch(settings: CompareSettings) -> Scores:
    sets = _small_cnn_sets(settings)
    model = small_cnn(seed=settings.seed)
    return _fit(model, sets.train, sets.test_aug, sets.scored, settings.epochs, settings.seed)


def _develop(settings: CompareSettings) -> Scores:
    """Source task 0-4, then a new head for 5-9 on frozen conv layers; labels 5-9 become 0-4."""
    sets = _small_cnn_sets(settings)
    source_sets = sets.only(SOURCE_DIGITS)
    source = small_cnn(len(SOURCE_DIGITS), seed=settings.seed)
    compile_classifier(source)
    _seeded_epochs(source, source_sets.train, settings.epochs, settings.seed)
    target = freeze_features_new_head(source, len(TARGET_DIGITS), seed=settings.seed)
    target_sets = sets.only(TARGET_DIGITS)
    return _fit(
        target,
        target_sets.train,
        target_sets.test_aug,
        target_sets.scored,
        settings.epochs,
        settings.seed,
    )


def plot_data_size(points: list[dict[str, Any]], path: Path) -> None:
    """The data-size sweep as a PNG: accuracy on MNIST and on people's digits against
    training digits per class, log scale, one panel each."""
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    from matplotlib import pyplot

    figure, panels = pyplot.subplots(1, 2, figsize=(11, 4.5), dpi=120, sharey=True)
    for axes, measure, title in zip(
        panels,
        ("test_accuracy", "people_accuracy"),
        ("MNIST test digits", "real people's digits (unseen writers)"),
        strict=True,
    ):
        for key in dict.fromkeys(point["strategy"] for point in points):
            mine = sorted((p["per_class"], p[measure]) for p in points if p["strategy"] == key)
            axes.plot(*zip(*mine, strict=True), marker="o", label=STRATEGIES[key])
        axes.set(xscale="log", xlabel="training digits per class", title=title)
        axes.grid(alpha=0.3)
    panels[0].set_ylabel("accuracy")
    panels[0].legend(fontsize=8)
    figure.suptitle("How much data do you need?")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
