"""What each choice of the defaults did: the app's default run with one setting changed.

Every row is a real run of `train` (float32, on this machine, one shared feature cache:
each row's seconds are its whole run, in which features an earlier row already computed
come from the cache), scored on MNIST test digits
and on real people's digits from writers it never saw (tl_core.pipeline.people), with the
digit read worst. The small CNN from scratch on the same digits closes the table. The
defaults in tl_core.config were chosen from this table; docs/choices.md holds it as measured.
"""

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tl_core.config import QUICK_RUN, TrainConfig
from tl_core.pipeline.evaluate import weakest_digit
from tl_core.pipeline.features import FeatureCache

NO_AUGMENTATION = {"rotation": 0.0, "shift": 0.0, "zoom": 0.0, "shear": 0.0, "stroke": 0.0}
# (what changes, the settings that change): the first row is the default itself.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("the default", {}),
    ("cut after block3", {"bottleneck": "block3"}),
    ("cut after block5", {"bottleneck": "block5"}),
    ("flatten instead of average", {"pooling": "flatten"}),
    ("10 epochs", {"epochs": 10}),
    ("no augmentation: each digit once", {**NO_AUGMENTATION, "views": 1}),
    ("stronger augmentation", {"rotation": 20.0, "zoom": 0.2, "shear": 0.5, "stroke": 1.5}),
    ("4 views: each digit and 3 augmented copies", {"views": 4}),
    ("input 48 px", {"input_size": 48}),
    ("random weights", {"weights": "random"}),
    (
        "the old default: block5, flatten, 10 epochs",
        {"bottleneck": "block5", "pooling": "flatten", "epochs": 10},
    ),
    (
        "the old default with random weights",
        {"bottleneck": "block5", "pooling": "flatten", "epochs": 10, "weights": "random"},
    ),
    ("MNIST plus the 20 training writers", {"include_people": True}),
]


def measure_choices(
    base: TrainConfig = QUICK_RUN, log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Train each variant of `base` in float32 and return one row of figures per variant."""
    from tl_core.pipeline.train import train
    from tl_core.teaching.compare import CompareSettings, compare

    rows = []
    with tempfile.TemporaryDirectory(prefix="digitlab-choices-") as folder:
        cache = FeatureCache(Path(folder) / "cache")
        for name, changes in VARIANTS:
            log(f"{name}...")
            config = replace(base, precision="float32", **changes)
            run = train(config, Path(folder) / "runs", cache=cache).run
            rows.append(_row(name, run.metrics, run.status["weights"]))
        log("small CNN from scratch...")
        started = time.perf_counter()
        compare_dir = Path(folder) / "compare"
        settings = CompareSettings.budget_of(base)
        scratch = compare(settings, ("scratch",), cache_dir=compare_dir)[0]
        rows.append(
            {
                "choice": "small CNN from scratch (same digits)",
                "weights": "none",
                "mnist": scratch.test_accuracy,
                "people": scratch.people_accuracy,
                "weakest": "",
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    return rows


def _row(name: str, metrics: dict[str, Any], weights: str) -> dict[str, Any]:
    return {
        "choice": name,
        "weights": weights,
        "mnist": round(metrics["test_accuracy"], 3),
        "people": round(metrics["people_accuracy"], 3),
        "weakest": weakest_digit(metrics["people_per_digit"]),
        "seconds": metrics["seconds"],
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, as docs/choices.md shows them."""
    lines = [
        "| choice | MNIST test | people's digits | weakest digit | seconds |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['choice']} | {row['mnist']:.3f} | {row['people']:.3f} | "
            f"{row['weakest']} | {row['seconds']} |"
        )
    return "\n".join(lines)
