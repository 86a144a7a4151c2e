"""Step 3, augmentation: random rotation, slant, zoom, shift and stroke width of 28x28 digits.

These are the ways one person's digit differs from another's on the canvas: tilted or
leaning, small or large, off-centre, a thin or a thick pen. The random draws come from
NumPy's seeded generator, so the same seed gives the same views on every machine;
TensorFlow's batched image transform then resamples a whole bank at once.
"""

import numpy as np
import tensorflow as tf

from tl_core.config import Ranges


def augment(digits: np.ndarray, ranges: Ranges, seed: int | list[int]) -> np.ndarray:
    """Return one randomly changed copy of each uint8 digit (N, 28, 28).

    The same seed always gives the same output.
    """
    n, height, width = digits.shape
    rng = np.random.default_rng(seed)
    angle = np.deg2rad(rng.uniform(-ranges.rotation, ranges.rotation, n))
    scale = rng.uniform(1 - ranges.zoom, 1 + ranges.zoom, n)
    dy = rng.uniform(-ranges.shift, ranges.shift, n) * height
    dx = rng.uniform(-ranges.shift, ranges.shift, n) * width
    slant = rng.uniform(-ranges.shear, ranges.shear, n)
    pen = rng.uniform(-ranges.stroke, ranges.stroke, n)
    # Inverse map, as TensorFlow wants it: output pixel p reads the source at
    # centre + Shear(slant)^-1 R(-angle) / scale * (p - centre - shift).
    cy, cx = (height - 1) / 2, (width - 1) / 2
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    a0, a1, b0, b1 = cos - slant * sin, sin + slant * cos, -sin, cos
    ox, oy = cx + dx, cy + dy
    transforms = np.stack(
        [a0, a1, cx - a0 * ox - a1 * oy, b0, b1, cy - b0 * ox - b1 * oy] + [np.zeros(n)] * 2,
        axis=1,
    ).astype(np.float32)
    moved = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.convert_to_tensor(change_stroke(digits, pen)[..., None], tf.float32),
        transforms=transforms,
        output_shape=[height, width],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return np.clip(np.rint(moved.numpy()[..., 0]), 0, 255).astype(np.uint8)


def change_stroke(digits: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Thicken (pixels > 0) or thin (< 0) each digit's strokes by about `pixels`, float32.

    A one-pixel dilation or erosion with a cross changes the width by two pixels; a share
    of it, blended in, changes it by a fraction, so any width in between can be reached.
    """
    x = digits.astype(np.float32)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    neighbours = np.stack(
        [x, padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]]
    )
    amount = np.clip(np.abs(pixels) / 2, 0, 1)[:, np.newaxis, np.newaxis]
    target = np.where(pixels[:, np.newaxis, np.newaxis] > 0, neighbours.max(0), neighbours.min(0))
    return x + amount * (target - x)


def augmented_test_set(digits: np.ndarray, ranges: Ranges, seed: int) -> np.ndarray:
    """The one augmented copy of a test set that training, evaluation and the bench share."""
    return augment(digits, ranges, [seed, 2])


def augmentation_bank(digits: np.ndarray, views: int, ranges: Ranges, seed: int) -> np.ndarray:
    """K views of every digit, image-major: shape (N * views, 28, 28). View 0 is the digit
    as it is, views 1 to K-1 are augmented copies.

    Keeping the digit itself among the views read MNIST and people's digits better than
    only augmented views, with the same number of images (docs/choices.md). View k of digit
    i sits at row i * views + k, so `bank.reshape(N, views, 28, 28)` works.
    """
    bank = augment(np.repeat(digits, views, axis=0), ranges, seed)
    bank[::views] = digits
    return bank
