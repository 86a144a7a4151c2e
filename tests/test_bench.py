"""`python -m tl_core bench` runs end to end on a tiny setting and writes valid JSON.

Speed itself is measured by running the bench, never asserted here (see the README).
"""

import json
from pathlib import Path

import pytest

from tl_core.cli import main

pytestmark = pytest.mark.slow  # five TensorFlow processes and eight trainings

KEYS = [
    "cores",
    "train_naive_s",
    "train_cached_s",
    "speedup",
    "acc_naive_clean",
    "acc_cached_clean",
    "acc_naive_aug",
    "acc_cached_aug",
    "extract_img_s_32",
    "extract_img_s_48",
    "predict_img_s_32",
    "extract_vs_predict",
    "matmul_f32_gflops",
    "base_gflop_per_image_32",
    "extract_f32_img_s_32",
    "base_f32_gflops_32",
    "base_fraction_of_f32_matmul",
    "base_f32_fraction_of_f32_matmul",
    "latency_p50_ms",
    "latency_p95_ms",
    "explain_cpu_p50_ms",
    "rss_train_mb",
    "rss_predict_mb",
    "cold_start_s",
    "quick_run_s",
    "quick_run_acc",
    "quick_run_drawn",
    "app_f32_s",
    "app_f32_clean",
    "app_f32_drawn",
    "app_f32_people",
    "app_random_f32_people",
    "app_people_f32_people",
    "cli_f32_s",
    "cli_f32_drawn",
    "cli_f32_people",
    "scratch_drawn",
    "scratch_people",
    "develop_drawn",
]
TINY = ["--source", "embedded", "--per-class", "3", "--test-per-class", "2", "--epochs", "1"]
CHEAP = ["--extract-images", "16", "--latency-calls", "5", "--repeats", "1"]
CHEAP += ["--reading-per-class", "3"]


def test_bench_prints_a_table_and_writes_every_key(tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "bench.json"
    assert main(["bench", *TINY, *CHEAP, "--json", str(out_file)]) == 0
    results = json.loads(out_file.read_text())
    assert set(KEYS) <= set(results)
    assert all(isinstance(results[key], int | float) for key in KEYS)
    assert results["cores"] >= 1 and results["train_digits"] == 30 and results["test_digits"] == 20
    assert results["cpu"] and results["tensorflow"] and isinstance(results["cpu_bfloat16"], bool)
    assert 0.55 < results["base_gflop_per_image_32"] < 0.7  # VGG16 convolutions at 32x32
    assert 0 < results["base_f32_fraction_of_f32_matmul"] < 2
    assert all(results[key] > 0 for key in KEYS if key.endswith(("_s", "_mb", "_ms", "img_s_32")))
    # right answers over the test digits: 2 per class, and 3 in the quick run's budget
    for key, digits in (("acc_cached_clean", 20), ("quick_run_acc", 30)):
        assert results[key] * digits == pytest.approx(round(results[key] * digits), abs=0.01)
    # the speedup is printed to two decimals: it is the ratio of the times, rounded
    ratio = results["train_naive_s"] / results["train_cached_s"]
    assert abs(results["speedup"] - ratio) <= 0.005 + 1e-9
    # people's digits: 3 per class of the held-out writers in the reading runs
    for key in ("app_f32_people", "app_random_f32_people", "app_people_f32_people"):
        assert results[key] * 30 == pytest.approx(round(results[key] * 30), abs=0.01)
    assert "not transfer learning" in results["app_random_f32_weights"]
    assert "pretrained" in results["app_f32_weights"]
    table = capsys.readouterr().out
    assert "speedup naive / cached" in table and f"{results['speedup']}x" in table
    assert "app default + 20 writers" in table


def test_reading_only_prints_the_transfer_figures_with_the_work_in_gflop(
    tmp_path: Path, capsys
) -> None:
    out_file = tmp_path / "reading.json"
    args = ["bench", *TINY, *CHEAP, "--reading-only", "--json", str(out_file)]
    assert main(args) == 0
    results = json.loads(out_file.read_text())
    assert "train_naive_s" not in results  # the naive training was skipped
    assert results["matmul_f32_gflops"] > 0 and results["latency_p50_ms"] > 0
    assert results["explain_cpu_p50_ms"] > 0
    table = capsys.readouterr().out
    # the run's time x the mean of the matmul rates read just before and after it
    before, after = results["app_f32_matmul_gflops"]
    assert before > 0 and after > 0
    work = results["app_f32_s"] * (before + after) / 2
    assert results["app_f32_gflop"] == pytest.approx(work, abs=1)
    assert f"{results['app_f32_gflop']:,} GFLOP" in table
    assert "small CNN from scratch: MNIST / people / drawn" in table
