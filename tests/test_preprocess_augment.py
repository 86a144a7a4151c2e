"""Steps 2 and 3: the shared preprocessing and the seeded augmentation."""

import numpy as np
import pytest

from tl_core.augment import augment, augmentation_bank
from tl_core.data import load_embedded
from tl_core.preprocess import to_model_input


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
    first = augment(digits, 15, 0.1, 0.1, seed=5)
    assert first.shape == digits.shape and first.dtype == np.uint8
    assert np.abs(first.astype(int) - digits).mean() > 5
    assert np.array_equal(first, augment(digits, 15, 0.1, 0.1, seed=5))
    assert not np.array_equal(first, augment(digits, 15, 0.1, 0.1, seed=6))


def test_zero_ranges_leave_digits_unchanged(digits: np.ndarray) -> None:
    assert np.array_equal(augment(digits, 0, 0, 0, seed=1), digits)


def test_shift_moves_the_ink(digits: np.ndarray) -> None:
    moved = augment(digits, 0, 0.3, 0, seed=2)
    centre = lambda d: np.argwhere(d > 128).mean(axis=0)  # noqa: E731
    shifts = [np.abs(centre(a) - centre(b)).max() for a, b in zip(moved, digits, strict=True)]
    assert max(shifts) > 2


def test_bank_holds_k_views_per_digit_in_image_major_order(digits: np.ndarray) -> None:
    bank = augmentation_bank(digits, 3, 15, 0.1, 0.1, seed=0)
    assert bank.shape == (30, 28, 28)
    views = bank.reshape(10, 3, 28, 28)
    assert not np.array_equal(views[0, 0], views[0, 1])
    # each view still looks like its own digit more than like the next one
    own = np.abs(views[:, 0].astype(int) - digits).mean()
    other = np.abs(views[:, 0].astype(int) - np.roll(digits, 1, axis=0)).mean()
    assert own < other
