"""The feature space: bottleneck features of test digits projected to 2D or 3D.

The lecture's claim: the features of one digit cluster together, even though VGG16 never
saw a digit. PCA (fast, the same axes every time) or t-SNE (slower, tighter clusters) from
scikit-learn, which mlxtend already depends on, project the 512 numbers per digit to a
point; the student's own drawing is projected with them, so they see where it lands.
Projections run one at a time per server (`ONE_AT_A_TIME`): a class opening Inside at once
queues here instead of taking the cores that answer its drawings.
"""

import threading

import keras
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from tl_core.i18n import N_
from tl_core.pipeline.features import extract_features, feature_extractor
from tl_core.pipeline.images import png_data_url
from tl_core.pipeline.model import base_of

METHODS = ("pca", "tsne")
# The table's values for the student's own point and the others: English, as the page's code
# compares them; the page shows them with `_(...)`.
YOURS, TEST_DIGIT, YOUR_DRAWING = N_("yours"), N_("test digit"), N_("your drawing")
ONE_AT_A_TIME = threading.Lock()


def bottleneck_features(model: keras.Model, digits: np.ndarray) -> np.ndarray:
    """Flattened bottleneck features (N, D) of uint8 digits, from the model's own base."""
    size = int(model.input_shape[1])
    extract = feature_extractor(base_of(model), size)
    return extract_features(extract, digits).reshape(len(digits), -1)


def project(features: np.ndarray, dims: int = 2, method: str = "pca", seed: int = 0) -> np.ndarray:
    """One point (dims,) per row of `features` (N, D); N must be more than `dims`."""
    if method not in METHODS or dims not in (2, 3):
        raise ValueError(f"method={method!r}, dims={dims}: use one of {METHODS} and 2 or 3.")
    if method == "pca":
        return PCA(n_components=dims, random_state=seed).fit_transform(features)
    perplexity = min(30.0, (len(features) - 1) / 3)
    return TSNE(dims, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)


def feature_space(
    model: keras.Model,
    digits: np.ndarray,
    labels: np.ndarray,
    drawn: np.ndarray | None = None,
    dims: int = 2,
    method: str = "pca",
) -> pd.DataFrame:
    """A table to plot: x, y (and z), the label, "test" or "yours", and a thumbnail.

    `drawn` is the student's prepared digit (28, 28); it is projected with the test digits
    and is the last row.
    """
    images = digits if drawn is None else np.concatenate([digits, drawn[np.newaxis]])
    with ONE_AT_A_TIME:
        points = project(bottleneck_features(model, images), dims, method)
    table = pd.DataFrame(points, columns=["x", "y", "z"][:dims])
    table["label"] = [str(label) for label in labels] + ([] if drawn is None else [YOURS])
    table["kind"] = [TEST_DIGIT] * len(labels) + ([] if drawn is None else [YOUR_DRAWING])
    table["image"] = [png_data_url(image) for image in images]
    return table
