"""Step 4, the model: VGG16's convolutional base, frozen, under a new head for ten digits.

`base_model` is VGG16 without its ImageNet classifier (`include_top=False`); its output is
the bottleneck. The `head` is new: Flatten -> Dense(512, relu) -> Dense(10, softmax), with
the bottleneck features standardised on the way in. The head is its own Keras model so it
can be trained on cached bottleneck features alone, and the full model (base + head) is what
a run saves and what prediction loads.

Nothing here calls `keras.utils.set_random_seed`: random weights and the head's initial
weights come from their own seeded generators, so a model built in one thread never changes
the random state of another, and the same seed gives the same network.
"""

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from tl_core.download import Download, DownloadFailed, cached_file, fetch
from tl_core.errors import WeightsUnavailable
from tl_core.files import file_digest

WEIGHTS_ENV = "DIGITLAB_WEIGHTS"
PRECISION_ENV = "DIGITLAB_PRECISION"
CPU_FLAGS_FILE = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # CPUs that multiply bfloat16 in hardware
IMAGENET_DOWNLOAD = Download(
    url=(
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ),
    fname="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    file_hash="6d6bbae143d832006294945121d1f1fc",
    cache_subdir="models",
)
RANDOM_LABEL = "random weights (not transfer learning)"
NUM_CLASSES = 10
FINE_TUNE_BLOCK = "block5"
BASE_NAME = "vgg16"  # the base's layer name inside a full model, as Keras names VGG16
BLOCK_CHANNELS = {"block3": 256, "block4": 512, "block5": 512}
SCALING = "scaling"  # the head's first layer after Flatten: standardises the features


@dataclass(frozen=True)
class Weights:
    """Which weights the base gets: a file (ImageNet) or None for seeded random init.

    `identity` changes whenever the weights do (a file hash, or the seed), so cached
    features computed with other weights are never reused.
    """

    path: Path | None
    identity: str
    label: str

    @property
    def is_transfer(self) -> bool:
        return self.path is not None


def resolve_weights(
    spec: str = "imagenet", seed: int = 0, download: Download = IMAGENET_DOWNLOAD
) -> Weights:
    """Find the VGG16 weights named by `spec`: "imagenet", "random" or a file path.

    For "imagenet" the order is: the file in $DIGITLAB_WEIGHTS, the Keras cache, the Keras
    download. Raises WeightsUnavailable with what to do when none works.
    """
    if spec == "random":
        return Weights(None, f"random-seed-{seed}", RANDOM_LABEL)
    if spec != "imagenet":
        return _weights_file(Path(spec).expanduser())
    if os.environ.get(WEIGHTS_ENV):
        return _weights_file(Path(os.environ[WEIGHTS_ENV]).expanduser())
    try:
        return _weights_file(fetch(download))
    except DownloadFailed as error:
        raise WeightsUnavailable(
            f"The ImageNet weights for VGG16 are not on this machine and {error}. "
            f"{how_to_get_weights(download)} Meanwhile you can train with "
            f"--weights random (not transfer learning)."
        ) from error


def how_to_get_weights(download: Download = IMAGENET_DOWNLOAD) -> str:
    """The advice, in one sentence, wherever the ImageNet weights are found missing."""
    return (
        f"Run `python -m tl_core prefetch` on a computer with internet, or copy "
        f"`{download.fname}` into `{download.cache_path().parent}`, or set "
        f"`{WEIGHTS_ENV}=/path/to/that/file`."
    )


def imagenet_weights_present(download: Download = IMAGENET_DOWNLOAD) -> Path | None:
    """The ImageNet weights file this machine has ($DIGITLAB_WEIGHTS or the cache), if any."""
    configured = os.environ.get(WEIGHTS_ENV)
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_file() else None
    return cached_file(download)


def default_weights() -> str:
    """ "imagenet" when this machine has the weights, else "random" (for measurements)."""
    return "imagenet" if imagenet_weights_present() else "random"


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


def resolve_precision(precision: str = "auto") -> str:
    """The precision the base computes in: "bfloat16" or "float32".

    "auto" picks bfloat16 where the CPU multiplies it in hardware (measured on 2 cores: the
    frozen base extracts features about 2x faster, and they differ from float32 by about
    0.5%), and float32 everywhere else, where bfloat16 would be emulated and slow.
    $DIGITLAB_PRECISION=float32 makes "auto" float32 on any CPU: the path of most laptops,
    to measure or test it on a machine that has bfloat16.
    """
    if precision != "auto":
        return precision
    if os.environ.get(PRECISION_ENV) in ("float32", "bfloat16"):
        return os.environ[PRECISION_ENV]
    return "bfloat16" if cpu_has_bfloat16() else "float32"


def cpu_has_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (False where it can't be asked
    cheaply, off Linux: then everything stays exact)."""
    try:
        flags = set(CPU_FLAGS_FILE.read_text().split())
    except OSError:
        return False
    return bool(flags.intersection(NATIVE_BF16_FLAGS))


def build_base_model(
    input_size: int, weights: Weights, seed: int = 0, bottleneck: str = "block5"
) -> keras.Model:
    """VGG16 without its top, cut after `bottleneck`'s pooling, every layer frozen.

    Random weights are drawn from a generator seeded with `seed` (Keras's own Glorot-uniform
    init, made repeatable), so the same seed gives the same network and the feature cache
    stays valid.
    """
    try:
        base_model = keras.applications.VGG16(
            include_top=False,
            weights=str(weights.path) if weights.path else None,
            input_shape=(input_size, input_size, 3),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        if weights.path is None:
            raise
        raise WeightsUnavailable(
            f"{weights.path} is not a usable VGG16 weights file ({error}). Download it again "
            f"with `python -m tl_core prefetch`, or point {WEIGHTS_ENV} at a good copy."
        ) from error
    if weights.path is None:
        _seeded_glorot(base_model, seed)
    if bottleneck != FINE_TUNE_BLOCK:
        cut = base_model.get_layer(f"{bottleneck}_pool").output
        base_model = keras.Model(base_model.input, cut, name=BASE_NAME)
    base_model.trainable = False
    return base_model


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
    return side, side, BLOCK_CHANNELS[bottleneck]


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


def build_head(feature_shape: tuple[int, ...], units: int = 512, seed: int = 0) -> keras.Model:
    """The new classifier that replaces ImageNet's: Flatten -> Dense(relu) -> Dense(10).

    The features are standardised first (`scale_features` sets the statistics; they are
    saved with the model, so prediction applies them too). Without it, the head learns
    slowly on features of very different scales: in the classroom quick run with random
    weights, training accuracy stayed under 0.5 after 10 epochs. The initial weights are
    seeded, so the same features and seed train the same head.
    """
    return keras.Sequential(
        [
            keras.Input(shape=feature_shape),
            keras.layers.Flatten(),
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
    """Set the head's standardisation to the mean and variance of the training features."""
    head.get_layer(SCALING).adapt(train_features.reshape(len(train_features), -1))


def build_full_model(base_model: keras.Model, head: keras.Model) -> keras.Model:
    """Base and head as one model, fed preprocessed images (see preprocess.to_model_input).

    `training=False` keeps the base in inference mode even while fine-tuning; VGG16 has no
    batch-norm, but this is the habit the Keras transfer-learning guide teaches.
    """
    inputs = keras.Input(shape=base_model.input_shape[1:])
    outputs = head(base_model(inputs, training=False))
    return keras.Model(inputs, outputs, name="digit_lab")


def compile_classifier(model: keras.Model, learning_rate: float = 1e-3) -> None:
    """Adam on sparse labels 0-9, reporting accuracy: every network here trains this way
    (the head, fine-tuning, the naive benchmark and the Compare page's small CNNs)."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def unfreeze_top_block(base_model: keras.Model) -> None:
    """For fine-tuning: make only the last convolutional block (block5) trainable."""
    base_model.trainable = True
    for layer in base_model.layers:
        layer.trainable = layer.name.startswith(FINE_TUNE_BLOCK)


def parameter_counts(model: keras.Model) -> tuple[int, int]:
    """(trainable, frozen) parameter counts, as the Train page shows them.

    Frozen counts the base's weights only: the head's feature statistics are not learned.
    """
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in base_of(model).non_trainable_weights)
    return trainable, frozen


def model_parameter_counts(
    input_size: int, head_units: int = 512, bottleneck: str = "block5"
) -> tuple[int, int]:
    """(trainable, frozen) counts of the transfer model, built with random weights (offline)."""
    base_model = build_base_model(input_size, resolve_weights("random"), bottleneck=bottleneck)
    head = build_head(base_model.output_shape[1:], head_units)
    return parameter_counts(build_full_model(base_model, head))


def _weights_file(path: Path) -> Weights:
    """Weights from a file: its md5 is the identity, so a changed file means new features."""
    if not path.is_file():
        raise WeightsUnavailable(
            f"The weights file {path} does not exist. Check the path, or unset {WEIGHTS_ENV} "
            f"to use the Keras cache."
        )
    return Weights(path, f"md5-{file_digest(path)}", f"ImageNet weights ({path.name})")
