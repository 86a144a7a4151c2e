"""What several test files share: the tiny training setting and a copy of one trained run."""

import shutil
from pathlib import Path

from tl_core.config import TrainConfig
from tl_core.pipeline.runs import Run, read_run

# The smallest real run: 10 digits per class, 2 epochs, embedded digits, and the default
# weights: offline (as in every test), VGG16 pretrained on ImageNet then on edge detection.
TINY = TrainConfig(data_source="embedded", per_class=10, test_per_class=5, epochs=2)


def install_run(run: Run, runs_dir: Path, name: str | None = None) -> Run:
    """A copy of a complete run in `runs_dir` (models load only from their runs folder)."""
    target = runs_dir / (name or run.name)
    shutil.copytree(run.path, target)
    return read_run(target)
