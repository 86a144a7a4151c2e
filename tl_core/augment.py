"""Step 3, augmentation: random rotation, shift and zoom of 28x28 digits, seeded.

The random draws come from NumPy's seeded generator, so the same seed gives the same views
on every machine; TensorFlow's batched image transform then resamples a whole bank at once.
"""

import numpy as np
import tensorflow as tf


def augment(
    digits: np.ndarray, rotation: float, shift: float, zoom: float, seed: int | list[int]
) -> np.ndarray:
    """Return one randomly transformed copy of each uint8 digit (N, 28, 28).

    rotation: max degrees either way; shift: max fraction of the side; zoom: max relative
    scale change (0.1 means 0.9x to 1.1x). The same seed always gives the same output.
    """
    n, height, width = digits.shape
    rng = np.random.default_rng(seed)
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    scale = rng.uniform(1 - zoom, 1 + zoom, n)
    dy = rng.uniform(-shift, shift, n) * height
    dx = rng.uniform(-shift, shift, n) * width
    # Inverse map, as TensorFlow wants it: output pixel (x, y) reads the source at
    # centre + R(-angle) / scale * ((x, y) - centre - shift).
    cy, cx = (height - 1) / 2, (width - 1) / 2
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    ox, oy = cx + dx, cy + dy
    transforms = np.stack(
        [cos, sin, cx - cos * ox - sin * oy, -sin, cos, cy + sin * ox - cos * oy]
        + [np.zeros(n)] * 2,
        axis=1,
    ).astype(np.float32)
    moved = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.convert_to_tensor(digits[..., None], tf.float32),
        transforms=transforms,
        output_shape=[height, width],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return np.clip(np.rint(moved.numpy()[..., 0]), 0, 255).astype(np.uint8)


def augmentation_bank(
    digits: np.ndarray, views: int, rotation: float, shift: float, zoom: float, seed: int
) -> np.ndarray:
    """K augmented views of every digit, image-major: shape (N * views, 28, 28).

    View k of digit i sits at row i * views + k, so `bank.reshape(N, views, 28, 28)` works.
    """
    repeated = np.repeat(digits, views, axis=0)
    return augment(repeated, rotation, shift, zoom, seed)
