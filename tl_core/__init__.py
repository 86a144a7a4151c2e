"""Digit Lab core: re-purpose an ImageNet VGG16 for handwritten digits, without Streamlit.

Layers, each importing only from itself and the ones before it (tests/test_layers.py):
the plumbing modules here (config, errors, paths, files, download, quiet), then `pipeline`
(data -> preprocess -> augment -> model -> features -> train -> evaluate -> predict, with
runs on disk), `serving` (a class on one server), `teaching` (the extras the lesson shows),
`tools` (developers' figures) and the CLI; the Streamlit app sits on top.
"""

from tl_core.config import TrainConfig
from tl_core.errors import DigitLabError

__all__ = ["DigitLabError", "TrainConfig"]
