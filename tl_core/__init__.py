"""Digit Lab core: re-purpose an ImageNet VGG16 for handwritten digits, without Streamlit.

The pipeline reads top to bottom, one module per step:
data -> preprocess -> augment -> model -> features -> train -> predict, with runs on disk.
"""

from tl_core.config import TrainConfig
from tl_core.errors import DigitLabError

__all__ = ["DigitLabError", "TrainConfig"]
