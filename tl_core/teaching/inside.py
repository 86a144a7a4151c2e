"""Inside the network: what VGG16's blocks make of one digit, and its first layer's filters.

The lecture's claim: early layers find edges, later ones shapes. At the 32x32 input used for
training, block5's maps are 1x1 and show nothing, so the views run a copy of the model's
base at 96x96: the convolution weights do not depend on the input size, so it is the same
network, just seen at a size where each block's maps are still pictures.
"""

import keras
import numpy as np

from tl_core.pipeline.model import base_of
from tl_core.pipeline.preprocess import to_model_input

VIEW_INPUT_SIZE = 96
BLOCKS = ("block1", "block2", "block3", "block4", "block5")


def viewing_base(model: keras.Model, input_size: int = VIEW_INPUT_SIZE) -> keras.Model:
    """A VGG16 base at `input_size` with the weights of `model`'s base, one output per block.

    `model` is a full model (base + head) or a base; blocks the base was cut before are
    left out.
    """
    source = base_of(model)
    vgg = keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(input_size, input_size, 3)
    )
    names = {layer.name for layer in source.layers}
    for layer in vgg.layers:
        if layer.name in names and layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    outputs = [
        vgg.get_layer(f"{block}_pool").output for block in BLOCKS if f"{block}_pool" in names
    ]
    return keras.Model(vgg.input, outputs, name="blocks")


def feature_maps(blocks: keras.Model, digit: np.ndarray) -> list[np.ndarray]:
    """The maps after each block for one uint8 (28, 28) digit: a list of (h, w, channels)."""
    size = int(blocks.input_shape[1])
    outputs = blocks(to_model_input(digit[np.newaxis], size), training=False)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [np.asarray(output)[0] for output in outputs]


def strongest_channels(maps: np.ndarray, count: int = 16) -> np.ndarray:
    """The `count` channels with the highest mean activation, each scaled to uint8 0-255.

    Returns (count, h, w), strongest first: the channels this digit excites most.
    """
    order = np.argsort(maps.mean(axis=(0, 1)))[::-1][:count]
    chosen = np.moveaxis(maps[..., order], -1, 0)
    peak = chosen.max(axis=(1, 2), keepdims=True)
    return np.rint(255 * chosen / np.where(peak > 0, peak, 1)).astype(np.uint8)


def first_layer_filters(model: keras.Model) -> np.ndarray:
    """block1_conv1's 64 filters as small RGB images, uint8 (64, 3, 3, 3).

    Each filter is scaled on its own to 0-255, so the pattern (an edge, a colour blob)
    shows whatever its weights' magnitude.
    """
    source = base_of(model)
    kernel = np.asarray(source.get_layer("block1_conv1").get_weights()[0])  # (3, 3, 3, 64)
    filters = np.moveaxis(kernel, -1, 0)[..., ::-1]  # BGR weights (caffe order) -> RGB
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    span = filters.max(axis=(1, 2, 3), keepdims=True) - low
    return np.rint(255 * (filters - low) / np.where(span > 0, span, 1)).astype(np.uint8)
