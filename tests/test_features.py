"""Step 5: bottleneck features, computed once and cached, with damaged caches rebuilt."""

import threading
from pathlib import Path

import numpy as np
import pytest

from tl_core.errors import TrainingStopped
from tl_core.pipeline.data import load_embedded
from tl_core.pipeline.features import (
    FEATURE_BATCH,
    FeatureCache,
    cache_key,
    cached_features,
    extract_features,
    feature_extractor,
)
from tl_core.pipeline.model import build_base_model
from tl_core.pipeline.weights import resolve_weights


@pytest.fixture(scope="module")
def extract():
    return feature_extractor(build_base_model(32, resolve_weights("random")), 32)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_embedded().x_test[:40]


class CountingExtractor:
    """Wraps the real extractor to count how many images reach the base."""

    def __init__(self, extract) -> None:
        self.extract, self.images = extract, 0

    def __call__(self, batch):
        self.images += int(batch.shape[0])
        return self.extract(batch)


def test_features_have_the_bottleneck_shape(extract, digits: np.ndarray) -> None:
    features, hit = cached_features(None, extract, digits, "unused")
    assert features.shape == (40, 2, 2, 512) and features.dtype == np.float32  # block4
    assert not hit


def test_batches_in_flight_together_give_each_digit_its_own_features(extract) -> None:
    digits = load_embedded().x_test[: 3 * FEATURE_BATCH + 5]  # a short last batch too
    reports: list[int] = []
    together = extract_features(extract, digits, on_batch=reports.append)
    one_by_one = np.concatenate([extract(digits[i : i + 1]).numpy() for i in range(0, 70, 7)])
    assert np.allclose(together[0:70:7], one_by_one, atol=1e-4)  # in order, not shuffled
    assert sorted(reports) == [5] + [FEATURE_BATCH] * 3  # every image reported once


def test_a_stop_during_extraction_starts_no_further_batch(extract) -> None:
    digits = load_embedded().x_test[: 8 * FEATURE_BATCH]
    stop, counting = threading.Event(), CountingExtractor(extract)
    with pytest.raises(TrainingStopped):
        extract_features(counting, digits, on_batch=lambda count: stop.set(), stop=stop)
    assert counting.images <= 2 * FEATURE_BATCH  # at most the batches already in flight


def test_second_request_is_served_from_the_cache(tmp_path: Path, extract, digits) -> None:
    cache, counting = FeatureCache(tmp_path), CountingExtractor(extract)
    key = cache_key(digits, 32, "random-seed-0")
    first, hit_first = cached_features(cache, counting, digits, key)
    second, hit_second = cached_features(cache, counting, digits, key)
    assert (hit_first, hit_second) == (False, True)
    assert counting.images == 40  # the base ran once
    assert np.array_equal(first, second)


@pytest.mark.parametrize("damage", ["truncate", "flip", "record"])
def test_a_damaged_cache_is_detected_and_rebuilt(tmp_path, extract, digits, damage) -> None:
    cache, counting = FeatureCache(tmp_path), CountingExtractor(extract)
    key = cache_key(digits, 32, "random-seed-0")
    original, _ = cached_features(cache, counting, digits, key)
    data_path = tmp_path / f"{key}.npy"
    raw = bytearray(data_path.read_bytes())
    if damage == "truncate":
        data_path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        raw[-5] ^= 0xFF
        data_path.write_bytes(bytes(raw))
    else:
        (tmp_path / f"{key}.json").write_text("{broken")
    assert cache.load(key) is None
    rebuilt, hit = cached_features(cache, counting, digits, key)
    assert not hit and counting.images == 80
    assert np.array_equal(rebuilt, original)
    assert cache.load(key) is not None


def test_key_changes_with_images_size_and_weights(digits: np.ndarray) -> None:
    key = cache_key(digits, 32, "w1")
    changed = digits.copy()
    changed[0, 0, 0] ^= 1
    assert (
        len(
            {
                key,
                cache_key(changed, 32, "w1"),
                cache_key(digits, 48, "w1"),
                cache_key(digits, 32, "w2"),
            }
        )
        == 4
    )
    assert key == cache_key(digits.copy(), 32, "w1")
