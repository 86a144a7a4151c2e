"""Step 4: the frozen VGG16 base, the new head, and where the pretrained weights come from."""

from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import md5_of

from tl_core.download import Download
from tl_core.errors import WeightsUnavailable
from tl_core.pipeline.model import (
    build_base_model,
    build_full_model,
    build_head,
    parameter_counts,
    unfreeze_top_block,
)
from tl_core.pipeline.weights import (
    EDGES_LABEL,
    IMAGENET_DOWNLOAD,
    IMAGENET_LABEL,
    frozen_weight_count,
    resolve_weights,
)


def reference_weights(path: Path) -> list[np.ndarray]:
    model = keras.applications.VGG16(include_top=False, weights=str(path), input_shape=(32, 32, 3))
    return model.get_weights()


def test_frozen_base_has_no_trainable_weights_and_head_has_the_expected_count() -> None:
    base_model = build_base_model(32, resolve_weights("random"))  # cut after block4
    assert base_model.trainable_weights == []
    assert base_model.output_shape == (None, 2, 2, 512)
    head = build_head(base_model.output_shape[1:], 512)  # averaged: 512 inputs
    model = build_full_model(base_model, head)
    trainable, frozen = parameter_counts(model)
    assert trainable == 512 * 512 + 512 + 512 * 10 + 10  # Dense(512) + Dense(10)
    assert frozen == 7_635_264 == frozen_weight_count("block4")  # VGG16's base up to block4
    assert model.predict(np.zeros((2, 32, 32, 3)), verbose=0).shape == (2, 10)
    flat = build_head(base_model.output_shape[1:], 512, pooling="flatten")
    trainable, _ = parameter_counts(build_full_model(base_model, flat))
    assert trainable == 2 * 2 * 512 * 512 + 512 + 512 * 10 + 10  # every position
    whole = build_base_model(32, resolve_weights("random"), bottleneck="block5")
    assert whole.output_shape == (None, 1, 1, 512)
    frozen = parameter_counts(build_full_model(whole, build_head((1, 1, 512))))[1]
    assert frozen == 14_714_688 == frozen_weight_count("block5")
    block3 = build_base_model(32, resolve_weights("random"), bottleneck="block3")
    assert block3.count_params() == frozen_weight_count("block3")


@pytest.mark.parametrize("block", ["block4", "block5"])
def test_fine_tuning_unfreezes_the_top_block_only(block: str) -> None:
    base_model = build_base_model(32, resolve_weights("random"), bottleneck=block)
    unfreeze_top_block(base_model)
    trainable = {w.path.split("/")[0] for w in base_model.trainable_weights}
    assert trainable == {f"{block}_conv1", f"{block}_conv2", f"{block}_conv3"}


def test_edge_detection_weights_are_vgg16_as_hed_trained_it() -> None:
    """The offline pretrained base: every convolution is HED's, copied by name, not random."""
    import h5py

    weights = resolve_weights("edges")
    assert weights.is_transfer and weights.label == EDGES_LABEL and weights.kind == "edges"
    base_model = build_base_model(32, weights, bottleneck="block5")
    with h5py.File(weights.path, "r") as handle:
        kernel = handle["block3/layers/conv2d_2/vars/0"][()]
        bias = handle["block5/layers/conv2d/vars/1"][()]
    assert np.array_equal(base_model.get_layer("block3_conv3").get_weights()[0], kernel)
    assert np.array_equal(base_model.get_layer("block5_conv1").get_weights()[1], bias)
    random_base = build_base_model(32, resolve_weights("random"), bottleneck="block5")
    for layer in random_base.layers:
        if layer.weights:
            assert not np.array_equal(
                base_model.get_layer(layer.name).get_weights()[0], layer.get_weights()[0]
            ), f"{layer.name} was not loaded"


def test_pretrained_is_imagenet_when_there_and_edges_offline(vgg16_weights_file: Path) -> None:
    offline = Download("http://127.0.0.1:9/w.h5", "w.h5", md5_of(vgg16_weights_file), "models")
    assert resolve_weights("pretrained", download=offline).label == EDGES_LABEL
    offline.cache_path().parent.mkdir(parents=True)
    offline.cache_path().write_bytes(vgg16_weights_file.read_bytes())
    weights = resolve_weights("pretrained", download=offline)
    assert weights.kind == "imagenet" and weights.label.startswith(IMAGENET_LABEL)


def test_random_weights_are_labelled_not_transfer_learning() -> None:
    weights = resolve_weights("random", seed=3)
    assert not weights.is_transfer and "not transfer learning" in weights.label


def test_resolver_loads_a_local_weights_file(vgg16_weights_file: Path) -> None:
    weights = resolve_weights(str(vgg16_weights_file))
    assert weights.is_transfer and weights.identity == f"md5-{md5_of(vgg16_weights_file)}"
    base_model = build_base_model(32, weights, bottleneck="block5")
    expected = reference_weights(vgg16_weights_file)
    assert all(
        np.array_equal(a, b) for a, b in zip(base_model.get_weights(), expected, strict=True)
    )


def test_resolver_takes_the_environment_variable_then_the_keras_cache(
    vgg16_weights_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITLAB_WEIGHTS", str(vgg16_weights_file))
    assert resolve_weights("imagenet").path == vgg16_weights_file
    monkeypatch.delenv("DIGITLAB_WEIGHTS")
    cached = Download("http://127.0.0.1:9/w.h5", "w.h5", md5_of(vgg16_weights_file), "models")
    cached.cache_path().parent.mkdir(parents=True)
    cached.cache_path().write_bytes(vgg16_weights_file.read_bytes())
    assert resolve_weights("imagenet", download=cached).path == cached.cache_path()


def test_keras_download_of_weights_from_a_local_server(
    vgg16_weights_file: Path, file_server
) -> None:
    file_server.files["/vgg16.h5"] = vgg16_weights_file.read_bytes()
    download = Download(
        file_server.url("/vgg16.h5"), "vgg16.h5", md5_of(vgg16_weights_file), "models"
    )
    weights = resolve_weights("imagenet", download=download)
    assert weights.path == download.cache_path()
    base_model = build_base_model(32, weights)
    assert np.array_equal(base_model.get_weights()[0], reference_weights(vgg16_weights_file)[0])


def test_corrupt_download_gives_the_clear_error_and_is_not_kept(
    vgg16_weights_file: Path, file_server
) -> None:
    good = vgg16_weights_file.read_bytes()
    file_server.files["/vgg16.h5"] = good[: len(good) // 2]  # a broken transfer
    download = Download(
        file_server.url("/vgg16.h5"), "vgg16.h5", md5_of(vgg16_weights_file), "models"
    )
    with pytest.raises(WeightsUnavailable) as caught:
        resolve_weights("imagenet", download=download)
    message = str(caught.value)
    assert "corrupt or incomplete" in message and "prefetch" in message
    assert "Traceback" not in message
    assert not download.cache_path().exists()


def test_offline_without_weights_says_what_to_do() -> None:
    offline = Download(
        "http://127.0.0.1:9/w.h5", IMAGENET_DOWNLOAD.fname, IMAGENET_DOWNLOAD.file_hash, "models"
    )
    with pytest.raises(WeightsUnavailable) as caught:
        resolve_weights("imagenet", download=offline)
    message = str(caught.value)
    assert "cannot be reached" in message and "python -m tl_core prefetch" in message


def test_a_file_that_is_not_vgg16_weights_gives_the_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"this is not HDF5")
    with pytest.raises(WeightsUnavailable, match="not a usable VGG16 weights file"):
        build_base_model(32, resolve_weights(str(bad)))
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        resolve_weights(str(tmp_path / "missing.h5"))


def test_random_weights_fingerprint_follows_the_values() -> None:
    from tl_core.pipeline.model import weights_fingerprint

    first = weights_fingerprint(build_base_model(32, resolve_weights("random"), seed=0))
    again = weights_fingerprint(build_base_model(32, resolve_weights("random"), seed=0))
    other = weights_fingerprint(build_base_model(32, resolve_weights("random"), seed=1))
    assert first == again != other


def test_precision_auto_is_what_this_machine_measured_unless_float32_is_forced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tl_core.pipeline import features, model

    monkeypatch.delenv("DIGITLAB_PRECISION", raising=False)  # a run may force float32
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(model, "CPU_FLAGS_FILE", cpuinfo)
    cpuinfo.write_text("flags : fpu avx2\n")  # most laptops: no probe, float32
    assert features.resolve_precision("auto") == "float32"
    cpuinfo.write_text("flags : fpu avx2 avx512_bf16\n")
    probe = features._probe_precision()  # this machine's real measurement, once per process
    assert probe["faster"] in ("float32", "bfloat16") and set(probe["images_per_s"]) == {
        "float32",
        "bfloat16",
    }
    assert features.resolve_precision("auto") == probe["faster"]
    remembered = tmp_path / "digitlab" / "cache" / "precision.json"
    assert [v["faster"] for v in features.read_json(remembered).values()] == [probe["faster"]]
    # An Intel Xeon without AMX reports avx512_bf16 but measured bfloat16 slower: the
    # remembered answer, not the flag, decides.
    features.write_json(remembered, {features._machine_key(): {"faster": "float32"}})
    assert features.resolve_precision("auto") == "float32"
    features.write_json(remembered, {features._machine_key(): {"faster": "bfloat16"}})
    assert features.resolve_precision("auto") == "bfloat16"
    monkeypatch.setenv("DIGITLAB_PRECISION", "float32")
    assert features.resolve_precision("auto") == "float32"
    assert features.resolve_precision("bfloat16") == "bfloat16"  # a named precision wins
