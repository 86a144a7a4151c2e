"""The teaching views' core: strategies compared, data size, where to cut, inside the network,
the feature space, and the class handwriting set. Small data, real Keras and real digits."""

import logging
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from tl_core.config import BOTTLENECKS, TrainConfig
from tl_core.errors import ConfigError, ImageError
from tl_core.pipeline.data import load_embedded
from tl_core.pipeline.handwriting import (
    load_handwriting,
    save_drawing,
    start_new_class_set,
)
from tl_core.pipeline.model import bottleneck_shape, build_base_model
from tl_core.pipeline.runs import load_model
from tl_core.pipeline.train import train
from tl_core.pipeline.weights import resolve_weights
from tl_core.teaching.compare import (
    CompareSettings,
    StrategyResult,
    compare,
    data_size_sweep,
    freeze_features_new_head,
    result_key,
    small_cnn,
)
from tl_core.teaching.inside import (
    feature_maps,
    first_layer_filters,
    strongest_channels,
    viewing_base,
)
from tl_core.teaching.projection import feature_space

TINY = CompareSettings(per_class=5, test_per_class=3, epochs=2, data_source="embedded")


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_embedded()
    return data.x_test[:40], data.y_test[:40]


@pytest.mark.slow  # a few trainings: with the slow tests, in CI
def test_every_strategy_runs_offline_with_one_curve_each(tmp_path) -> None:
    keys = ("pretrained", "fine-tune", "random", "scratch", "develop")
    results = compare(TINY, keys, cache_dir=tmp_path)
    by_key = {result.key: result for result in results}
    assert [r.key for r in results] == list(keys)
    for key in ("pretrained", "fine-tune"):  # offline: VGG16 as HED trained it
        assert "ImageNet, then on edge detection" in by_key[key].label
    for key in keys:
        result = by_key[key]
        epochs = TINY.epochs + (TrainConfig().fine_tune_epochs if key == "fine-tune" else 0)
        assert result.available and len(result.val_accuracy) == epochs
        tested = 30 if key != "develop" else 15  # develop: digits 5-9 of 3 per class
        for accuracy in (result.test_accuracy, result.people_accuracy):
            right = accuracy * tested  # stored to 5 decimals: a count of right answers
            assert right == pytest.approx(round(right), abs=0.01)
        assert result.seconds > 0 and not result.cached


@pytest.mark.slow
def test_pretrained_strategies_use_imagenet_when_it_is_there(
    vgg16_weights_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DIGITLAB_WEIGHTS", str(vgg16_weights_file))
    (pretrained,) = compare(TINY, ("pretrained",), cache_dir=tmp_path)
    assert pretrained.available and len(pretrained.val_accuracy) == TINY.epochs
    assert "pretrained on ImageNet (vgg16_notop.h5)" in pretrained.label


def test_a_saved_result_is_reused_only_when_every_input_is_the_same(tmp_path: Path) -> None:
    cache = tmp_path / "cache"

    def scratch(settings: CompareSettings) -> StrategyResult:
        return compare(settings, ("scratch",), cache_dir=cache)[0]

    first = scratch(TINY)
    assert not first.cached and len(list(cache.glob("*.json"))) == 1
    again = scratch(TINY)
    assert again.cached and replace(again, cached=False) == first  # read back, not trained
    assert not scratch(replace(TINY, epochs=1)).cached  # a setting
    data = load_embedded()
    digits = tmp_path / "mnist.npz"
    arrays = {"x_train": data.x_train, "y_train": data.y_train}
    np.savez(digits, **arrays, x_test=data.x_test, y_test=data.y_test)
    from_file = replace(TINY, data_source="file", data_path=str(digits))
    assert not scratch(from_file).cached  # another data source
    assert scratch(from_file).cached
    changed = data.x_test.copy()
    changed[:, 0, 0] = 255  # the same file name, other digits
    np.savez(digits, **arrays, x_test=changed, y_test=data.y_test)
    assert not scratch(from_file).cached


def test_the_result_key_follows_the_weights_file_not_its_name(
    vgg16_weights_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DIGITLAB_WEIGHTS", str(vgg16_weights_file))
    before = result_key("pretrained", TINY)
    assert result_key("pretrained", TINY) == before and result_key("random", TINY) != before
    other = tmp_path / vgg16_weights_file.name
    other.write_bytes(vgg16_weights_file.read_bytes() + b"another file, the same name")
    monkeypatch.setenv("DIGITLAB_WEIGHTS", str(other))
    assert result_key("pretrained", TINY) != before
    monkeypatch.delenv("DIGITLAB_WEIGHTS")  # offline: the edge-detection weights
    assert len({before, result_key("pretrained", TINY)}) == 2


def test_the_develop_model_approach_freezes_the_conv_layers_only() -> None:
    source = small_cnn(5)
    before = [w.copy() for w in source.get_layer("conv1").get_weights()]
    target = freeze_features_new_head(source, 5)
    trainable = {w.path.split("/")[0] for w in target.trainable_weights}
    assert trainable == {"new_head_dense", "new_head_output"}
    target.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).integers(0, 255, (16, 28, 28), dtype=np.uint8)
    target.fit(x, np.arange(16) % 5, epochs=1, verbose=0)
    after = source.get_layer("conv1").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert target.output_shape == (None, 5)


@pytest.mark.slow
def test_the_data_size_sweep_returns_one_point_per_setting(tmp_path: Path) -> None:
    points = data_size_sweep(TINY, (2, 4), ("random", "scratch", "pretrained"), cache_dir=tmp_path)
    assert sorted((p["strategy"], p["per_class"]) for p in points) == [
        ("pretrained", 2),
        ("pretrained", 4),
        ("random", 2),
        ("random", 4),
        ("scratch", 2),
        ("scratch", 4),
    ]
    for point in points:  # each is a count of right answers over 30 test digits
        for measure in ("test_accuracy", "people_accuracy"):
            right = point[measure] * 30  # stored to 5 decimals
            assert right == pytest.approx(round(right), abs=0.01)


@pytest.mark.parametrize("block", BOTTLENECKS)
def test_the_cut_sets_the_bottleneck_shape(block: str) -> None:
    base_model = build_base_model(32, resolve_weights("random"), bottleneck=block)
    assert base_model.output_shape[1:] == bottleneck_shape(32, block)
    assert base_model.trainable_weights == []


def test_a_cut_at_block3_trains_flattened_and_bad_choices_are_refused(tmp_path: Path) -> None:
    config = TrainConfig(
        data_source="embedded",
        weights="random",
        per_class=5,
        test_per_class=3,
        epochs=1,
        bottleneck="block3",
        pooling="flatten",
    )
    run = train(config, tmp_path).run
    assert run.is_complete and run.status["bottleneck"] == "block3"
    model = load_model(run, tmp_path)
    assert model.get_layer("vgg16").output_shape[1:] == (4, 4, 256)
    assert model.get_layer("head").get_layer("scaling").output.shape[1:] == (4 * 4 * 256,)
    with pytest.raises(ConfigError, match="bottleneck='block9'"):
        TrainConfig(bottleneck="block9")
    with pytest.raises(ConfigError, match="pooling='max'"):
        TrainConfig(pooling="max")


def test_feature_maps_shrink_block_by_block_and_filters_are_images(digits) -> None:
    base_model = build_base_model(32, resolve_weights("edges"), bottleneck="block5")
    blocks = viewing_base(base_model)
    maps = feature_maps(blocks, digits[0][0])
    assert [m.shape for m in maps] == [
        (48, 48, 64),
        (24, 24, 128),
        (12, 12, 256),
        (6, 6, 512),
        (3, 3, 512),
    ]
    strongest = strongest_channels(maps[0], 16)
    assert strongest.shape == (16, 48, 48) and strongest.dtype == np.uint8
    means = maps[0].mean(axis=(0, 1))
    first = maps[0][..., np.argmax(means)]  # the channel with the highest mean comes first
    np.testing.assert_array_equal(strongest[0], np.rint(255 * first / first.max()).astype(np.uint8))
    assert (np.diff(np.sort(means)[::-1][:16]) <= 0).all()
    filters = first_layer_filters(base_model)
    assert filters.shape == (64, 3, 3, 3) and filters.dtype == np.uint8


@pytest.mark.parametrize(("dims", "method"), [(2, "pca"), (3, "pca"), (2, "tsne")])
def test_the_projection_keeps_one_point_per_digit_and_marks_the_drawing(
    digits, dims: int, method: str
) -> None:
    x, y = digits
    model = build_base_model(32, resolve_weights("random"))
    table = feature_space(model, x, y, drawn=x[0], dims=dims, method=method)
    assert len(table) == len(x) + 1
    assert list(table.columns[:dims]) == ["x", "y", "z"][:dims]
    assert table["kind"].iloc[-1] == "your drawing" and (table["kind"] == "test digit").sum() == 40
    assert table["image"].str.startswith("data:image/png;base64,").all()
    assert np.isfinite(table[["x", "y", "z"][:dims]].to_numpy()).all()


def test_saved_drawings_survive_a_restart_and_a_corrupt_one_is_skipped(
    tmp_path: Path, digits, caplog: pytest.LogCaptureFixture
) -> None:
    x, y = digits
    for digit, label in zip(x[:3], y[:3], strict=True):
        save_drawing(digit, int(label), tmp_path)
    (tmp_path / "7-20260101-000000-abcdef.png").write_bytes(b"\x89PNG broken")
    with caplog.at_level(logging.WARNING):
        loaded = load_handwriting(tmp_path)  # a fresh read of the folder, as after a restart
    assert len(loaded) == 3 and loaded.skipped == 1
    assert "Skipping the damaged handwriting file" in caplog.text
    assert sorted(loaded.y.tolist()) == sorted(int(v) for v in y[:3])
    assert any(np.array_equal(loaded.x[i], x[0]) for i in range(3))
    with pytest.raises(ImageError, match="label=12"):
        save_drawing(x[0], 12, tmp_path)
    assert start_new_class_set(False, tmp_path) == 4 and len(load_handwriting(tmp_path)) == 0


def test_the_small_cnn_reads_28x28_digits() -> None:
    model = small_cnn()
    assert model.output_shape == (None, 10)
    assert isinstance(model.get_layer("conv1"), keras.layers.Conv2D)


@pytest.mark.slow
def test_the_compare_command_prints_a_table_and_writes_the_plot(tmp_path: Path, capsys) -> None:
    from tl_core.cli import main

    png = tmp_path / "data-size.png"
    args = ["compare", "--source", "embedded", "--per-class", "3", "--epochs", "1"]
    assert main([*args, "--sweep", "2", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Small CNN trained from scratch" in out and "then on edge detection" in out
    assert "unavailable" not in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([*args, "--sweep", "2"]) == 2
    assert "add --png PATH" in capsys.readouterr().err
