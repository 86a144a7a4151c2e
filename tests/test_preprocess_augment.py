"""Steps 2 and 3: the shared preprocessing and the seeded augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from tl_core.config import Ranges
from tl_core.pipeline.augment import augment, augmentation_bank, change_stroke
from tl_core.pipeline.data import load_embedded
from tl_core.pipeline.drawn import drawn_digit_set
from tl_core.pipeline.preprocess import deskew, to_model_input

TILT = Ranges(rotation=15, shift=0.1, zoom=0.1)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_embedded().x_train[::400]  # one of each digit


@pytest.mark.parametrize("size", [32, 48])
def test_model_input_is_float32_rgb_at_size_with_imagenet_normalization(
    digits: np.ndarray, size: int
) -> None:
    x = to_model_input(digits, size).numpy()
    assert x.shape == (10, size, size, 3) and x.dtype == np.float32
    # preprocess_input subtracts the ImageNet means (103.9, 116.8, 123.7 in BGR order).
    assert x.min() >= -124 and x.max() <= 152
    assert x[..., 0].min() == pytest.approx(-103.939, abs=1e-3)
    assert x[..., 2].max() > 100  # white strokes survive


def test_augmentation_changes_digits_and_repeats_with_a_seed(digits: np.ndarray) -> None:
    first = augment(digits, TILT, seed=5)
    assert first.shape == digits.shape and first.dtype == np.uint8
    assert np.abs(first.astype(int) - digits).mean() > 5
    assert np.array_equal(first, augment(digits, TILT, seed=5))
    assert not np.array_equal(first, augment(digits, TILT, seed=6))


def test_zero_ranges_leave_digits_unchanged(digits: np.ndarray) -> None:
    assert np.array_equal(augment(digits, Ranges(), seed=1), digits)


def test_shift_moves_the_ink(digits: np.ndarray) -> None:
    moved = augment(digits, Ranges(shift=0.3), seed=2)
    centre = lambda d: np.argwhere(d > 128).mean(axis=0)  # noqa: E731
    shifts = [np.abs(centre(a) - centre(b)).max() for a, b in zip(moved, digits, strict=True)]
    assert max(shifts) > 2


def test_bank_holds_the_digit_then_augmented_views_in_image_major_order(
    digits: np.ndarray,
) -> None:
    bank = augmentation_bank(digits, 3, TILT, seed=0)
    assert bank.shape == (30, 28, 28)
    views = bank.reshape(10, 3, 28, 28)
    assert np.array_equal(views[:, 0], digits)  # view 0: the digit itself
    assert not np.array_equal(views[0, 1], views[0, 2])
    # each augmented view still looks like its own digit more than like the next one
    own = np.abs(views[:, 1].astype(int) - digits).mean()
    other = np.abs(views[:, 1].astype(int) - np.roll(digits, 1, axis=0)).mean()
    assert own < other


def _slant(digits: np.ndarray) -> np.ndarray:
    """How far the ink moves right per row down (moments), per digit."""
    x = digits.astype(float)
    rows, cols = np.indices((28, 28))
    mass = x.sum(axis=(1, 2))
    cy = (x * rows).sum(axis=(1, 2)) / mass
    cx = (x * cols).sum(axis=(1, 2)) / mass
    dy, dx = rows - cy[:, None, None], cols - cx[:, None, None]
    return (x * dx * dy).sum(axis=(1, 2)) / (x * dy * dy).sum(axis=(1, 2))


def test_shear_slants_the_digits_and_deskewing_straightens_them(digits: np.ndarray) -> None:
    leaning = augment(digits, Ranges(shear=0.6), seed=3)
    change = np.abs(_slant(leaning) - _slant(digits))
    assert change.mean() > 0.1  # the shear really slants them
    straightened = deskew(leaning).numpy()
    assert np.abs(_slant(straightened)).max() < 0.05
    assert np.abs(_slant(straightened)).mean() < np.abs(_slant(leaning)).mean() / 4


def test_deskew_puts_the_centre_of_mass_at_the_centre(digits: np.ndarray) -> None:
    off_centre = np.zeros_like(digits)
    off_centre[:, 3:, :-3] = digits[:, :-3, 3:]  # moved down 3 and left 3 (MNIST's margin is 4)
    moved = deskew(off_centre).numpy()
    rows, cols = np.indices((28, 28))
    for digit in moved:
        centre = ((digit * rows).sum() / digit.sum(), (digit * cols).sum() / digit.sum())
        assert np.allclose(centre, (14, 14), atol=0.6)


def test_stroke_change_thickens_and_thins_the_ink(digits: np.ndarray) -> None:
    ink = lambda d: (d > 127).sum()  # noqa: E731
    thicker = change_stroke(digits, np.full(len(digits), 1.0))
    thinner = change_stroke(digits, np.full(len(digits), -1.0))
    assert ink(thicker) > 1.3 * ink(digits) > 1.3 * 1.3 * ink(thinner)
    assert np.array_equal(change_stroke(digits, np.zeros(len(digits))), digits)


def projective_deskew(digits: np.ndarray) -> np.ndarray:
    """The same straightening by TensorFlow's projective image transform (the reference):
    output (x, y) reads the source at (x + skew * (y - 14) + cx - 14, y + cy - 14)."""
    x = digits.astype(np.float32)
    rows, cols = np.mgrid[0:28, 0:28].astype(np.float32)
    mass = x.sum(axis=(1, 2)) + 1e-6
    cy, cx = (x * rows).sum(axis=(1, 2)) / mass, (x * cols).sum(axis=(1, 2)) / mass
    dy, dx = rows - cy[:, None, None], cols - cx[:, None, None]
    skew = np.clip((x * dx * dy).sum(axis=(1, 2)) / ((x * dy * dy).sum(axis=(1, 2)) + 1e-6), -1, 1)
    one, zero = np.ones_like(skew), np.zeros_like(skew)
    transforms = np.stack([one, skew, cx - 14 - skew * 14, zero, one, cy - 14, zero, zero], 1)
    moved = tf.raw_ops.ImageProjectiveTransformV3(
        images=x[..., None], transforms=transforms, output_shape=[28, 28], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT",
    )  # fmt: skip
    return moved.numpy()[..., 0]


def test_deskew_matches_the_projective_transform_it_replaces() -> None:
    digits = np.concatenate([load_embedded().x_test, drawn_digit_set().x])
    difference = np.abs(deskew(digits).numpy() - projective_deskew(digits))
    assert difference.max() < 0.01  # of 255: float rounding only
