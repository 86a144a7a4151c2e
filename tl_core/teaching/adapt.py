""" "Teach it our handwriting": the model in use adapted to the class's drawings, in seconds.

Transfer learning in the room: a model trained on a large data set (MNIST, on top of a
pretrained VGG16) re-purposed with a small one made by the class. It starts from the
trained head of the model in use, not from a new one, and trains it a few epochs on three
in four of the class's drawings (each as itself and in augmented copies) mixed with MNIST
training digits of the same run (so it keeps what it knew). The base stays frozen, so only a few
thousand digits go through it, and their features are cached. The held-out quarter of the
class set (`split_held_out`) is never trained on: the old and the new model are both scored
on it and on the run's MNIST test digits, the two halves of the lesson.

The adapted model stays in memory until the teacher adopts it (`adopt`), which saves it as
a new complete run: from then on it is the model in use.
"""

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tl_core.config import TrainConfig
from tl_core.errors import DigitLabError, RunError
from tl_core.i18n import Text
from tl_core.paths import feature_cache_dir
from tl_core.pipeline import runs
from tl_core.pipeline.augment import augmentation_bank, augmented_test_set
from tl_core.pipeline.data import load_budget, stratified_subset
from tl_core.pipeline.drawn import drawn_digit_set, drawn_set_for
from tl_core.pipeline.evaluate import run_metrics, score
from tl_core.pipeline.features import (
    FeatureCache,
    cache_key,
    cached_features,
    feature_extractor,
    features_identity,
)
from tl_core.pipeline.handwriting import Handwriting, split_held_out
from tl_core.pipeline.model import SCALING, base_of, build_full_model, compile_classifier
from tl_core.pipeline.people import people_test_set
from tl_core.pipeline.train import fit_epoch
from tl_core.serving.jobs import Report, ServerJob

MIN_DRAWINGS = 10  # fewer, and the held-out part says nothing
CLASS_VIEWS = 8  # views of each class drawing trained on: itself and 7 augmented copies
REPLAY_PER_CLASS = 100  # MNIST training digits per class mixed in, so it keeps what it knew
EPOCHS = 12
LEARNING_RATE = 3e-4  # lower than training's 1e-3: it adjusts a trained head
BATCH = 64
# Drawing styles MNIST has few of (American census forms of the 1990s): a 7 with a bar
# across, a 1 with a flag and a base. `styled_class_set` draws them for tests and measuring.
UNFAMILIAR_STYLES = {7: "bar", 1: "flag and base"}


@dataclass(frozen=True)
class Adaptation:
    """An adapted model and the lesson's numbers: accuracy before and after, on the held-out
    class drawings ("class") and on the run's MNIST test digits ("mnist")."""

    id: str
    source: str  # the run it was adapted from
    config: TrainConfig
    model: keras.Model
    trained_on: tuple[str, ...]
    held_out: tuple[str, ...]
    before: dict[str, float]
    after: dict[str, float]
    metrics: dict[str, Any]  # the new model's, as a run records them
    history: tuple[dict[str, float], ...]
    seconds: float


def check_enough(handwriting: Handwriting) -> None:
    """Raise DigitLabError, in one sentence, when the class set is too small to teach from."""
    if len(handwriting) < MIN_DRAWINGS:
        raise DigitLabError(
            Text(
                "Teaching it our handwriting needs at least {needed} drawings in the class set "
                "(it has {count}): ask the class to draw and answer on Draw first.",
                needed=MIN_DRAWINGS,
                count=len(handwriting),
            )
        )


def adapt_to_class(
    run: runs.Run,
    handwriting: Handwriting,
    report: Report,
    runs_dir: Path | None = None,
    cache: FeatureCache | None = None,
) -> Adaptation:
    """Adapt the run's model to the class's drawings; `report(step, total, message)` follows
    progress (and raises once a stop was asked for). See the module docstring."""
    started = time.perf_counter()
    check_enough(handwriting)
    to_train, held_out = split_held_out(handwriting)
    config = run.config
    report(0, EPOCHS, Text("Loading the model in use and MNIST"))
    model = runs.load_model(run, runs_dir)
    base, head = base_of(model), model.get_layer("head")
    data = load_budget(config)
    replay_x, replay_y = stratified_subset(data.x_train, data.y_train, REPLAY_PER_CLASS, 7)
    train_x = np.concatenate(
        [replay_x, augmentation_bank(to_train.x, CLASS_VIEWS, config.ranges, config.seed)]
    )
    train_y = np.concatenate([replay_y, np.repeat(to_train.y, CLASS_VIEWS)])
    people = people_test_set(config.test_per_class, config.seed)
    images = {
        "train": train_x,
        "held_out": held_out.x,
        "test_clean": data.x_test,
        "test_aug": augmented_test_set(data.x_test, config.ranges, config.seed),
        "people": people.x,
        "drawn": drawn_set_for(config.test_per_class).x,
    }
    features = _features(base, config.input_size, config.bottleneck, images, cache, report)
    new_head = keras.models.clone_model(head)
    new_head.set_weights(head.get_weights())
    new_head.get_layer(SCALING).finalize_state()  # set_weights alone leaves its statistics
    validation = (features["test_aug"], data.y_test)  # as in training; never our drawings
    history = _train(new_head, features["train"], train_y, validation, report)
    probabilities = {
        "old": {name: _predict(head, features[name]) for name in ("held_out", "test_clean")},
        "new": {name: _predict(new_head, features[name]) for name in images if name != "train"},
    }
    before, after = (
        {
            "class": score(probabilities[which]["held_out"], held_out.y)["accuracy"],
            "mnist": score(probabilities[which]["test_clean"], data.y_test)["accuracy"],
        }
        for which in ("old", "new")
    )
    drawn = drawn_set_for(config.test_per_class).y
    metrics = run_metrics(probabilities["new"], data.y_test, people.y, drawn)
    metrics.update(class_held_out_before=before["class"], class_held_out_after=after["class"])
    return Adaptation(
        id=secrets.token_hex(4),
        source=run.name,
        config=replace(config, include_handwriting=True),
        model=build_full_model(base, new_head),
        trained_on=to_train.names,
        held_out=held_out.names,
        before=before,
        after=after,
        metrics=metrics,
        history=tuple(history),
        seconds=round(time.perf_counter() - started, 2),
    )


def adopt_as_teacher(
    adaptation: Adaptation, job: ServerJob, entered: str | None, on_this_computer: bool
) -> Path:
    """`adopt`, for the server's teacher only (NotAllowed for anyone else): the app's way."""
    job.check_teacher(entered, on_this_computer)
    return adopt(adaptation, job.runs_dir)


def adopt(adaptation: Adaptation, runs_dir: Path | None = None) -> Path:
    """Save the adapted model as a new complete run, which makes it the model in use."""
    source = runs.find_run(runs.resolve_runs_dir(runs_dir), adaptation.source)
    path = runs.create_run(
        runs.resolve_runs_dir(runs_dir),
        adaptation.config,
        {
            **{
                key: source.status.get(key)
                for key in ("data_source", "weights", "bottleneck", "pooling", "include_people")
            },
            "precision": "float32",
            "adapted_from": adaptation.source,
            "adaptation": adaptation.id,
            "handwriting_digits": len(adaptation.trained_on),
            "handwriting_trained": list(adaptation.trained_on),
            "train_digits": source.status.get("train_digits"),
            "test_digits": source.status.get("test_digits"),
        },
    )
    try:
        runs.save_history(path, list(adaptation.history))
        metrics = {**adaptation.metrics, "seconds": adaptation.seconds}
        runs.finish_run(path, adaptation.model, metrics)
    except OSError as error:  # a full disk: the run is marked failed, the old model stays
        with contextlib.suppress(OSError):
            runs.set_state(path, runs.FAILED, error=str(error))
        raise RunError(
            Text(
                "Saving the adapted model failed ({error}), so the model in use did not change. "
                "Free some disk space and try again.",
                error=str(error.strerror or error),
            )
        ) from error
    return path


def _features(
    base: keras.Model,
    input_size: int,
    bottleneck: str,
    images: dict[str, np.ndarray],
    cache: FeatureCache | None,
    report: Report,
) -> dict[str, np.ndarray]:
    """Float32 features of each image set, from the on-disk cache where it has them: the
    run's test sets and the drawn set were cached with this key when it trained (a run
    trained before this key existed, or fine-tuned, computes them once here)."""
    cache = cache or FeatureCache(feature_cache_dir())
    extract = feature_extractor(base, input_size, "float32")
    identity = features_identity(base, bottleneck, "float32")  # training's own scored sets
    total, done = sum(len(x) for x in images.values()), 0

    def on_batch(count: int) -> None:
        nonlocal done
        done += count
        report(done, total, Text("Running the frozen base on the class's drawings and MNIST"))

    return {
        name: cached_features(cache, extract, x, cache_key(x, input_size, identity), on_batch)[0]
        for name, x in images.items()
    }


def _train(
    head: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray],
    report: Report,
) -> list[dict[str, float]]:
    """A few epochs from the trained head, shuffled with a fixed seed; the history has the
    columns of a training's (validation on augmented MNIST test digits), so every page that
    draws a run's curves draws these. A stop ends it at the next epoch's report."""
    compile_classifier(head, LEARNING_RATE)
    rng = np.random.default_rng(11)
    history = []
    for epoch in range(EPOCHS):
        order = rng.permutation(len(y))
        metrics = fit_epoch(head, x[order], y[order], validation, BATCH, threading.Event())
        history.append({"epoch": epoch + 1, "phase": "adapt", **metrics})
        report(
            epoch + 1,
            EPOCHS,
            Text(
                "Teaching it our handwriting: epoch {epoch} of {epochs}",
                epoch=epoch + 1,
                epochs=EPOCHS,
            ),
        )
    return history


def _predict(head: keras.Model, features: np.ndarray) -> np.ndarray:
    return head.predict(features, batch_size=1024, verbose=0)


def styled_class_set(count: int, seed: int = 5) -> Handwriting:
    """`count` drawings in UNFAMILIAR_STYLES, as a class that writes that way would save
    them (named like saved drawings, so `split_held_out` works on them)."""
    per_style = -(-count // len(UNFAMILIAR_STYLES))
    # every third drawing of a 7 or a 1 has the wanted style (shapes take turns)
    drawn = drawn_digit_set(per_digit=3 * per_style, seed=seed)
    pairs = zip(drawn.y, drawn.styles, strict=True)
    wanted = np.array([UNFAMILIAR_STYLES.get(int(label)) == style for label, style in pairs])
    x, y = drawn.x[wanted][:count], drawn.y[wanted][:count]
    order = np.random.default_rng(seed).permutation(len(y))  # the digits mixed, not in blocks
    names = tuple(f"{label}-20260101-000000{i:06d}-{i:06x}.png" for i, label in enumerate(y[order]))
    return Handwriting(x[order], y[order], names)
