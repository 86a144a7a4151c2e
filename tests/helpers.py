"""What several test files share: the tiny training setting, a copy of one trained run and
a drawing as the canvas hands it over."""

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tl_core.config import TrainConfig
from tl_core.pipeline.images import png_data_url
from tl_core.pipeline.runs import Run, read_run

# The smallest real run: 10 digits per class, 2 epochs, embedded digits, and the default
# weights: offline (as in every test), VGG16 pretrained on ImageNet then on edge detection.
TINY = TrainConfig(data_source="embedded", per_class=10, test_per_class=5, epochs=2)


def install_run(run: Run, runs_dir: Path, name: str | None = None) -> Run:
    """A copy of a complete run in `runs_dir` (models load only from their runs folder)."""
    target = runs_dir / (name or run.name)
    shutil.copytree(run.path, target)
    return read_run(target)


def canvas_value(draw_strokes: Callable[[ImageDraw.ImageDraw], None]) -> dict:
    """The value streamlit-drawable-canvas keeps in session_state after a drawing."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw_strokes(ImageDraw.Draw(image))
    url = png_data_url(np.asarray(image))
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}, "backgroundFit": None}
