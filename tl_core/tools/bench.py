"""The benchmark: the project's way against the naive way, on the same digits and settings.

The naive way is what a tutorial does: augmentation layers and the frozen VGG16 inside one
Keras model and `model.fit` for E epochs, so every epoch runs the base over every image. The
project's way is `train`: the base runs once per image and augmented view (the bottleneck
features), then only the head trains. Each measurement runs in a fresh process, so one
cannot warm a cache, a graph or the memory of another, and each process's peak RSS is its own.

Figures that are cheap to repeat (throughput, latency) are medians of repeats; a training
run is measured once.
"""

import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from tl_core.config import QUICK_RUN, TrainConfig
from tl_core.paths import HOME_ENV

EXTRACT_SIZES = (32, 48)


@dataclass(frozen=True)
class BenchSettings:
    """What one bench run measures; the defaults finish in a few minutes on 2 cores."""

    config: TrainConfig
    extract_images: int = 1024
    latency_calls: int = 200
    repeats: int = 3
    quick_run: TrainConfig = QUICK_RUN
    reading_per_class: int | None = None  # digits per class of the reading runs (None: theirs)
    reading_only: bool = False  # only how well people's digits are read, and what it costs


def run_bench(settings: BenchSettings, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every measurement, each in a fresh process; returns the figures by JSON key."""
    config = settings.config
    results: dict[str, Any] = {
        **machine(),
        "weights": config.weights,
        "epochs": config.epochs,
        "views": config.views,
        "input_size": config.input_size,
    }
    if settings.reading_only:
        return _reading_only(settings, results, log)
    log("training the project's way (cached bottleneck features)...")
    cached = _in_fresh_process(_train_cached, config)
    log("training the naive way (model.fit over VGG16 every epoch)...")
    naive = _in_fresh_process(_train_naive, config)
    results.update(
        data_source=cached["data_source"],
        precision=cached["precision"],
        train_digits=cached["train_digits"],
        test_digits=cached["test_digits"],
        train_naive_s=naive["seconds"],
        train_cached_s=cached["seconds"],
        speedup=round(naive["seconds"] / cached["seconds"], 2),
        acc_naive_clean=naive["acc_clean"],
        acc_cached_clean=cached["acc_clean"],
        acc_naive_aug=naive["acc_aug"],
        acc_cached_aug=cached["acc_aug"],
        rss_train_mb=cached["rss_mb"],
        rss_train_naive_mb=naive["rss_mb"],
    )
    log("feature extraction throughput...")
    extraction = _in_fresh_process(
        _extraction_throughput, config, settings.extract_images, settings.repeats
    )
    results.update(extraction)
    results["extract_vs_predict"] = round(
        extraction["extract_img_s_32"] / extraction["predict_img_s_32"], 2
    )
    log("this machine's float32 matrix-multiply rate, and the base's share of it...")
    results.update(_in_fresh_process(_float32_rates, config, settings.extract_images))
    results["base_gflops_32"] = round(
        results["base_gflop_per_image_32"] * results["extract_img_s_32"], 1
    )
    for path in ("", "_f32"):
        results[f"base{path}_fraction_of_f32_matmul"] = round(
            results[f"base{path}_gflops_32"] / results["matmul_f32_gflops"], 3
        )
    log("cold start and prediction latency...")
    results.update(
        _in_fresh_process(_predict_only, cached["run_path"], settings.latency_calls, time.time())
    )
    log("the classroom quick run...")
    quick = _in_fresh_process(_train_cached, _reading_config(settings.quick_run, settings))
    results.update(
        quick_run_s=quick["seconds"],
        quick_run_acc=quick["acc_clean"],
        quick_run_drawn=quick["acc_drawn"],
    )
    results.update(_reading(settings, log)[0])
    return results


READING_RUNS = {"app": QUICK_RUN, "cli": TrainConfig()}  # the app's Start, `train` bare
# The app's default with one choice changed: the comparisons the lesson's claims rest on.
READING_VARIANTS = {
    "random": {"weights": "random"},
    "people": {"include_people": True},
}


def _reading_only(
    settings: BenchSettings, results: dict[str, Any], log: Callable[[str], None]
) -> dict[str, Any]:
    """The figures of "transfer learning you can see": the float32 matmul rate, the default
    runs on MNIST and on people's digits, the variants, the small CNNs and the latency."""
    log("this machine's float32 matrix-multiply rate...")
    results.update(_in_fresh_process(_float32_rates, settings.config, settings.extract_images))
    reading, app_run_path = _reading(settings, log)
    results.update(reading)
    log("prediction latency of the app's default model...")
    results.update(
        _in_fresh_process(_predict_only, app_run_path, settings.latency_calls, time.time())
    )
    return results


def _reading_config(base: TrainConfig, settings: BenchSettings, **changes: Any) -> TrainConfig:
    """`base` on the bench's data and weights (and the reading budget, if one is set)."""
    config = settings.config
    budget = settings.reading_per_class
    if budget:
        changes.update(per_class=budget, test_per_class=budget)
    values = {
        "weights": config.weights,
        "data_source": config.data_source,
        "data_path": config.data_path,
        **changes,
    }
    return replace(base, **values)


def _reading(settings: BenchSettings, log: Callable[[str], None]) -> tuple[dict[str, Any], str]:
    """How well people's digits and drawings are read: the two default runs and the app
    default's variants (random weights; the people's training writers added) in float32
    (what a CPU without bfloat16 runs), clean, people's (with the weakest digit) and
    drawn-digit accuracy, and Start to saved model (also times the float32 matmul rate
    read around the run: the work in GFLOP, which carries across machines); then the
    small CNN strategies on the same digits, for comparison. Returns the figures and the
    folder of the app default's run."""
    results: dict[str, Any] = {}
    paths = {}
    runs = {name: _reading_config(base, settings) for name, base in READING_RUNS.items()}
    for name, changes in READING_VARIANTS.items():
        runs[f"app_{name}"] = _reading_config(QUICK_RUN, settings, **changes)
    for name, config in runs.items():
        log(f"reading people's digits: {name} in float32...")
        run = _in_fresh_process(_train_cached, replace(config, precision="float32"))
        paths[name] = run["run_path"]
        rate = statistics.mean(run["matmul_gflops"])
        results.update(
            {
                f"{name}_f32_s": run["seconds"],
                f"{name}_f32_matmul_gflops": run["matmul_gflops"],
                f"{name}_f32_gflop": round(run["seconds"] * rate),
                f"{name}_f32_weights": run["weights"],
                f"{name}_f32_clean": run["acc_clean"],
                f"{name}_f32_people": run["acc_people"],
                f"{name}_f32_people_worst": run["people_worst"],
                f"{name}_f32_drawn": run["acc_drawn"],
            }
        )
    log("reading drawings: the small CNN strategies...")
    results.update(_in_fresh_process(_small_cnns, _reading_config(QUICK_RUN, settings)))
    return results, paths["app"]


def _small_cnns(config: TrainConfig) -> dict[str, Any]:
    """Clean, people's and drawn accuracy of the small CNN strategies on the app default's
    budget."""
    os.environ[HOME_ENV] = tempfile.mkdtemp(prefix="digitlab-bench-")
    from tl_core.teaching.compare import CompareSettings, compare

    results: dict[str, Any] = {}
    for result in compare(CompareSettings.budget_of(config), ("scratch", "develop")):
        results[f"{result.key}_clean"] = result.test_accuracy
        results[f"{result.key}_people"] = result.people_accuracy
        results[f"{result.key}_drawn"] = result.drawn_accuracy
    return results


def format_table(results: dict[str, Any]) -> str:
    """The figures as a two-column text table, in the order they are measured."""
    if "train_naive_s" not in results:  # --reading-only
        rows = [_cpu_row(results), ("float32 matmul (GFLOP/s)", results["matmul_f32_gflops"])]
        rows += reading_rows(results)
        rows.append(
            ("latency p50 / p95 (ms)", f"{results['latency_p50_ms']} / {results['latency_p95_ms']}")
        )
        rows.append(("explanation CPU p50 (ms)", results["explain_cpu_p50_ms"]))
        return _two_columns(rows)
    rows = [
        _cpu_row(results),
        ("cores", results["cores"]),
        ("tensorflow / keras", f"{results['tensorflow']} / {results['keras']}"),
        ("float32 matmul (GFLOP/s)", results["matmul_f32_gflops"]),
        ("data", f"{results['data_source']}"),
        (
            "setting",
            f"{results['train_digits']} train / {results['test_digits']} test digits, "
            f"E={results['epochs']}, {results['views']} views, {results['weights']} weights, "
            f"base in {results['precision']}",
        ),
        ("train naive (s)", results["train_naive_s"]),
        ("train cached (s)", results["train_cached_s"]),
        ("speedup naive / cached", f"{results['speedup']}x"),
        ("accuracy naive clean / aug", _pair(results, "acc_naive")),
        ("accuracy cached clean / aug", _pair(results, "acc_cached")),
        ("extract img/s at 32", results["extract_img_s_32"]),
        ("extract img/s at 48", results["extract_img_s_48"]),
        ("model.predict img/s at 32", results["predict_img_s_32"]),
        ("model.predict img/s at 48", results["predict_img_s_48"]),
        ("extract / predict at 32", f"{results['extract_vs_predict']}x"),
        ("extract img/s at 32, float32", results["extract_f32_img_s_32"]),
        (
            "base GFLOP/s at 32: this run / float32",
            f"{results['base_gflops_32']} / {results['base_f32_gflops_32']} "
            f"({results['base_gflop_per_image_32']} GFLOP per image)",
        ),
        (
            "base / float32 matmul rate: this run / float32",
            f"{results['base_fraction_of_f32_matmul']} / "
            f"{results['base_f32_fraction_of_f32_matmul']}",
        ),
        ("latency p50 / p95 (ms)", f"{results['latency_p50_ms']} / {results['latency_p95_ms']}"),
        ("explanation CPU p50 (ms)", results["explain_cpu_p50_ms"]),
        ("peak RSS training (MB)", results["rss_train_mb"]),
        ("peak RSS naive training (MB)", results["rss_train_naive_mb"]),
        ("peak RSS predicting (MB)", results["rss_predict_mb"]),
        ("cold start to first prediction (s)", results["cold_start_s"]),
        ("quick run: Start to saved model (s)", results["quick_run_s"]),
        (
            "quick run accuracy clean / drawn",
            f"{results['quick_run_acc']:.4f} / {results['quick_run_drawn']:.4f}",
        ),
    ]
    rows += reading_rows(results)
    return _two_columns(rows)


READING_LABELS = {
    "app": "app default",
    "cli": "`train`, no options",
    "app_random": "app default, random weights",
    "app_people": "app default + 20 writers",
}


def reading_rows(results: dict[str, Any]) -> list[tuple[str, Any]]:
    """The reading runs: time (and time x the float32 matmul rate read before and after
    the run), MNIST, people's digits (the weakest digit), the drawn-digit set; then the
    small CNNs."""
    rows: list[tuple[str, Any]] = []
    for name, label in READING_LABELS.items():
        before, after = results[f"{name}_f32_matmul_gflops"]
        work = f", x rate ({before} before, {after} after): {results[f'{name}_f32_gflop']:,} GFLOP"
        rows += [
            (f"{label}: weights", results[f"{name}_f32_weights"]),
            (f"{label}, float32: Start to saved (s)", f"{results[f'{name}_f32_s']}{work}"),
            (
                f"{label}, float32: MNIST / people (weakest) / drawn",
                f"{results[f'{name}_f32_clean']:.4f} / {results[f'{name}_f32_people']:.4f} "
                f"({results[f'{name}_f32_people_worst']}) / {results[f'{name}_f32_drawn']:.4f}",
            ),
        ]
    for key, label in (("scratch", "small CNN from scratch"), ("develop", "develop-a-model (5-9)")):
        rows.append(
            (
                f"{label}: MNIST / people / drawn",
                f"{results[key + '_clean']:.4f} / {results[key + '_people']:.4f} / "
                f"{results[key + '_drawn']:.4f}",
            )
        )
    return rows


def _cpu_row(results: dict[str, Any]) -> tuple[str, str]:
    return (
        "cpu",
        f"{results['cpu']}, family {results['cpu_family']} model {results['cpu_model']} "
        f"(bfloat16 instructions: {'yes' if results['cpu_bfloat16'] else 'no'})",
    )


def _two_columns(rows: list[tuple[str, Any]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def sample_drawing(side: int = 280) -> np.ndarray:
    """A 7 drawn in white on a transparent canvas, as streamlit-drawable-canvas returns it."""
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    scale = side / 280
    points = [(60 * scale, 40 * scale), (200 * scale, 40 * scale), (110 * scale, 250 * scale)]
    ImageDraw.Draw(image).line(points, fill=(255, 255, 255, 255), width=round(18 * scale))
    return np.asarray(image)


def _pair(results: dict[str, Any], prefix: str) -> str:
    return f"{results[prefix + '_clean']:.4f} / {results[prefix + '_aug']:.4f}"


def _in_fresh_process(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `function(*args)` in a new Python process (spawned, not forked) and return its dict."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _train_cached(config: TrainConfig) -> dict[str, Any]:
    """The project's `train`, from an empty feature cache, timed from call to saved model.

    The float32 matmul rate is read just before and just after the run, in its process:
    this machine's rate wanders (160 to 290 GFLOP/s in one hour on one Xeon), so the rate
    that converts this run's time into work is the one the run itself ran at."""
    os.environ[HOME_ENV] = tempfile.mkdtemp(prefix="digitlab-bench-")
    from tl_core.pipeline.evaluate import weakest_digit
    from tl_core.pipeline.train import train

    rate_before = float32_matmul_rate()
    started = time.perf_counter()
    result = train(config)
    seconds = time.perf_counter() - started
    rates = (rate_before, float32_matmul_rate())
    run = result.run
    return {
        "seconds": round(seconds, 2),
        "matmul_gflops": [round(rate, 1) for rate in rates],
        "acc_clean": run.metrics["test_accuracy"],
        "acc_aug": run.metrics["test_accuracy_augmented"],
        "acc_drawn": run.metrics["drawn_accuracy"],
        "acc_people": run.metrics["people_accuracy"],
        "people_worst": weakest_digit(run.metrics["people_per_digit"]),
        "weights": run.status["weights"],
        "rss_mb": _peak_rss_mb(),
        "run_path": str(run.path),
        "data_source": run.status["data_source"],
        "precision": run.status["precision"],
        "train_digits": run.status["train_digits"],
        "test_digits": run.status["test_digits"],
    }


def _train_naive(config: TrainConfig) -> dict[str, Any]:
    """The tutorial way: augmentation layers and the frozen base inside `fit`, float32.

    Same digits, augmentation ranges, head, optimizer, epochs and validation set (the
    augmented test digits) as `train`; the images are resized to the input size and made
    RGB once, before `fit`, as a tutorial would.
    """
    import keras

    from tl_core.pipeline.augment import augmented_test_set
    from tl_core.pipeline.data import load_budget
    from tl_core.pipeline.evaluate import score
    from tl_core.pipeline.model import build_base_model, build_head, compile_classifier
    from tl_core.pipeline.preprocess import IMAGENET_MEAN_BGR, to_model_input
    from tl_core.pipeline.weights import resolve_weights

    data = load_budget(config)
    x_test_aug = augmented_test_set(data.x_test, config.ranges, config.seed)
    started = time.perf_counter()

    def rgb(digits: np.ndarray) -> np.ndarray:
        """0-255 RGB at the input size: preprocessing minus the mean, which the model adds."""
        return to_model_input(digits, config.input_size).numpy() + IMAGENET_MEAN_BGR

    weights = resolve_weights(config.weights, config.seed)
    base_model = build_base_model(config.input_size, weights, config.seed, config.bottleneck)
    inputs = keras.Input((config.input_size, config.input_size, 3))
    x = keras.layers.RandomRotation(config.rotation / 360, fill_mode="constant")(inputs)
    x = keras.layers.RandomTranslation(config.shift, config.shift, fill_mode="constant")(x)
    x = keras.layers.RandomZoom(config.zoom, config.zoom, fill_mode="constant")(x)
    x = keras.layers.Normalization(mean=IMAGENET_MEAN_BGR, variance=np.ones(3))(x)  # minus mean
    outputs = build_head(base_model.output_shape[1:], config.head_units, pooling=config.pooling)(
        base_model(x, training=False)
    )
    model = keras.Model(inputs, outputs)
    compile_classifier(model, config.learning_rate)
    model.fit(
        rgb(data.x_train),
        data.y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(rgb(x_test_aug), data.y_test),
        verbose=0,
    )
    seconds = time.perf_counter() - started
    clean = score(model.predict(rgb(data.x_test), verbose=0), data.y_test)
    augmented = score(model.predict(rgb(x_test_aug), verbose=0), data.y_test)
    return {
        "seconds": round(seconds, 2),
        "acc_clean": clean["accuracy"],
        "acc_aug": augmented["accuracy"],
        "rss_mb": _peak_rss_mb(),
    }


def _extraction_throughput(config: TrainConfig, images: int, repeats: int) -> dict[str, Any]:
    """Images/s of the project's extractor and of plain `model.predict`, per input size.

    `model.predict` gets float32 VGG16 inputs already prepared (its most favourable case);
    the extractor takes uint8 digits and prepares them in its own graph.
    """
    import tensorflow as tf

    from tl_core.pipeline.data import load_mnist
    from tl_core.pipeline.features import FEATURE_BATCH, feature_extractor, resolve_precision
    from tl_core.pipeline.model import build_base_model
    from tl_core.pipeline.preprocess import to_model_input
    from tl_core.pipeline.weights import resolve_weights

    digits = np.resize(load_mnist(config.data_source, config.data_path).x_train, (images, 28, 28))
    weights = resolve_weights(config.weights, config.seed)
    precision = resolve_precision(config.precision)
    results: dict[str, Any] = {}
    for size in EXTRACT_SIZES:
        plain = build_base_model(size, weights, config.seed)
        prepared = to_model_input(digits, size).numpy()
        extract = feature_extractor(plain, size, precision)

        def run_extractor(extract: Callable = extract) -> None:
            for start in range(0, images, FEATURE_BATCH):
                extract(tf.constant(digits[start : start + FEATURE_BATCH])).numpy()

        def run_predict(plain: Any = plain, prepared: np.ndarray = prepared) -> None:
            plain.predict(prepared, verbose=0)

        results[f"extract_img_s_{size}"] = _median_rate(run_extractor, images, repeats)
        results[f"predict_img_s_{size}"] = _median_rate(run_predict, images, repeats)
    return results


def machine() -> dict[str, Any]:
    """What the figures depend on: the CPU (name, family and model numbers: a virtual
    machine may name only the vendor), its cores and bfloat16 hardware, TensorFlow."""
    import keras
    import tensorflow as tf

    from tl_core.pipeline.model import cpu_fields, cpu_has_bfloat16

    fields = cpu_fields()
    return {
        "cpu": fields.get("model name") or platform.processor() or "unknown",
        "cpu_family": fields.get("cpu family"),
        "cpu_model": fields.get("model"),
        "cores": os.cpu_count(),
        "cpu_bfloat16": cpu_has_bfloat16(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def float32_matmul_rate(side: int = 1024, products: int = 20) -> float:
    """This machine's float32 matrix-multiply rate in GFLOP/s (the median of three timed
    runs of `products` products of side x side, on all cores): the yardstick beside every
    time this project reports, since the CPUs it runs on differ by 2.4x."""
    import tensorflow as tf

    a = tf.random.stateless_normal([side, side], seed=[1, 2])

    @tf.function
    def multiply() -> tf.Tensor:
        x = a
        for _ in range(products):
            x = tf.matmul(x, a) * (1.0 / side)  # scaled, so values stay finite
        return x

    return _median_rate(lambda: multiply().numpy(), products, 3) * 2 * side**3 / 1e9


def _float32_rates(config: TrainConfig, images: int) -> dict[str, Any]:
    """The machine's float32 matrix-multiply rate (GFLOP/s, the median of timed 1024x1024
    products on all cores), the frozen base's work per image at 32 px, and the base's
    float32 extraction rate, whatever precision the bench's run used."""
    import tensorflow as tf

    from tl_core.pipeline.data import load_mnist
    from tl_core.pipeline.features import FEATURE_BATCH, feature_extractor
    from tl_core.pipeline.model import build_base_model
    from tl_core.pipeline.weights import resolve_weights

    matmul_rate = float32_matmul_rate()
    base = build_base_model(32, resolve_weights(config.weights, config.seed), config.seed)
    flop = _base_flop_per_image(base)
    digits = np.resize(load_mnist(config.data_source, config.data_path).x_train, (images, 28, 28))
    extract = feature_extractor(base, 32, "float32")

    def run_extractor() -> None:
        for start in range(0, images, FEATURE_BATCH):
            extract(tf.constant(digits[start : start + FEATURE_BATCH])).numpy()

    f32_rate = _median_rate(run_extractor, images, 3)
    return {
        "matmul_f32_gflops": round(matmul_rate, 1),
        "base_gflop_per_image_32": round(flop / 1e9, 4),
        "extract_f32_img_s_32": f32_rate,
        "base_f32_gflops_32": round(flop * f32_rate / 1e9, 1),
    }


def _base_flop_per_image(base: Any) -> float:
    """Multiply-adds x 2 of every convolution of the base for one image (the rest is small)."""
    import keras

    flop = 0.0
    for layer in base.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, out_channels = layer.output.shape
            kernel_h, kernel_w, in_channels, _ = layer.kernel.shape
            flop += 2 * height * width * out_channels * kernel_h * kernel_w * in_channels
    return flop


def _median_rate(work: Callable[[], None], items: int, repeats: int) -> float:
    """Items per second, the median of `repeats` timed calls after one warm-up call."""
    work()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return round(items / statistics.median(seconds), 1)


def _predict_only(run_path: str, calls: int, spawned_at: float) -> dict[str, Any]:
    """A process that only predicts: cold start, warm latency from canvas RGBA, the CPU
    time the Draw page's explanation of a guess adds to it (process CPU, all threads: a
    guess with its explanation, less a guess alone), peak RSS.

    Cold start runs from the moment the parent spawned this process to the first
    prediction returned: Python, TensorFlow and the model loading, and the first trace.
    """
    from tl_core.pipeline.predict import Predictor
    from tl_core.pipeline.runs import load_model, read_run
    from tl_core.teaching.explain import explain

    drawing = sample_drawing()
    run = read_run(Path(run_path))
    model = load_model(run, run.path.parent)
    predictor = Predictor(model)
    predictor.predict_image(drawing, drawing=True)
    cold_start = time.time() - spawned_at
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        predictor.predict_image(drawing, drawing=True)
        latencies.append((time.perf_counter() - started) * 1000)
    guess_cpu, explain_cpu = [], []
    for _ in range(max(1, calls // 4)):
        started = time.process_time()
        predictor.predict_image(drawing, drawing=True)
        guessed = time.process_time()
        explain(predictor.predict_image(drawing, drawing=True, explained=True))
        guess_cpu.append((guessed - started) * 1000)
        explain_cpu.append((time.process_time() - guessed) * 1000)
    return {
        "cold_start_s": round(cold_start, 2),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "latency_calls": calls,
        "explain_cpu_p50_ms": round(
            float(np.percentile(explain_cpu, 50) - np.percentile(guess_cpu, 50)), 1
        ),
        "rss_predict_mb": _peak_rss_mb(),
    }
