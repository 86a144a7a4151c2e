"""Inside the network: feature maps of a digit, the first layer's filters, the feature space."""

import altair as alt
import keras
import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from pages.common import (
    DRAWN_DIGIT,
    NO_MODEL_YET,
    mnist,
    predictor_in_use,
    through_app_navigation,
    weights_badge,
)
from tl_core.pipeline.images import mosaic
from tl_core.teaching.inside import (
    BLOCKS,
    VIEW_INPUT_SIZE,
    feature_maps,
    first_layer_filters,
    strongest_channels,
    viewing_base,
)
from tl_core.teaching.projection import METHODS, feature_space

through_app_navigation()  # first: a deep link on a fresh server runs through app.py

CHANNELS = 16


@st.cache_resource(max_entries=2)
def blocks_model(run_path: str, model_sha256: str, _model: keras.Model) -> keras.Model:
    """The run's base at 96x96 with one output per block, built once per run."""
    return viewing_base(_model)


@st.cache_data(max_entries=8, show_spinner="Projecting the features…")
def cached_space(
    run_path: str, count: int, dims: int, method: str, drawn: bytes | None, _model: keras.Model
) -> pd.DataFrame:
    """The feature-space table, once per run, setting and drawing."""
    data = mnist()
    digit = None if drawn is None else np.frombuffer(drawn, np.uint8).reshape(28, 28)
    return feature_space(_model, data.x_test[:count], data.y_test[:count], digit, dims, method)


st.title(":material/biotech: Inside the network")
run, predictor = predictor_in_use()
if run is None:
    st.info(NO_MODEL_YET)
    st.stop()
st.caption(f"Model in use: {run.name} · {weights_badge(run)}")

data = mnist()
drawn = st.session_state.get(DRAWN_DIGIT)
choices = ["your drawing from the Draw page"] if drawn is not None else []
choices.append("a test digit")
source = st.radio("Which digit", choices, horizontal=True, key="inside_source")
if source == "a test digit":
    index = st.number_input("test digit number", 0, len(data.y_test) - 1, 0, key="inside_index")
    digit = data.x_test[int(index)]
else:
    digit = drawn
st.image(digit, caption="the digit (28x28)", width=84, alt="The digit the maps below come from.")

st.subheader("Feature maps after each block")
st.markdown(
    f"The digit goes through the base at {VIEW_INPUT_SIZE}x{VIEW_INPUT_SIZE}; each grid shows "
    f"the {CHANNELS} channels it excites most after that block. Early blocks respond to edges "
    "and strokes; later blocks to larger shapes, in coarser maps."
)
blocks = blocks_model(str(run.path), run.status.get("model_sha256", ""), predictor.model)
for block, maps in zip(BLOCKS, feature_maps(blocks, digit), strict=False):
    sheet = mosaic(strongest_channels(maps, CHANNELS), 8)
    scale = max(1, 480 // sheet.shape[1])
    st.image(
        sheet,
        caption=f"{block}: {maps.shape[0]}x{maps.shape[1]} maps, {maps.shape[2]} channels",
        width=sheet.shape[1] * scale,
        alt=f"The {CHANNELS} feature maps of {block} that this digit excites most, bright "
        "where a channel responds.",
    )

st.subheader("The first layer's 64 filters")
if not run.config.is_transfer:
    st.caption(
        "Each 3x3 filter of block1_conv1, scaled to its own range. These are random weights: "
        "noise, no pattern. Train with pretrained weights to see what photos taught them."
    )
else:
    st.caption(
        "Each 3x3 filter of block1_conv1, scaled to its own range, as pretraining on photos "
        f"left them ({run.status.get('weights')}): edge detectors and colour blobs."
    )
filters = np.repeat(np.repeat(first_layer_filters(predictor.model), 8, axis=1), 8, axis=2)
st.image(
    mosaic(filters, 16),
    width=16 * 26,
    alt="The 64 colour filters of the first layer, 3x3 pixels each, in a grid of 16 by 4.",
)

st.subheader("The feature space")
st.markdown(
    "The bottleneck features of test digits, squeezed to a few dimensions. Digits of one kind "
    "land near each other; your drawing is the black diamond. Hover a point to see its digit."
)
left, middle, right = st.columns(3)
count = left.select_slider("test digits", [100, 200, 300, 500], 300, key="space_count")
dims = middle.radio("dimensions", [2, 3], horizontal=True, key="space_dims")
method = right.radio("projection", METHODS, horizontal=True, key="space_method")
table = cached_space(
    str(run.path),
    int(count),
    int(dims),
    method,
    None if drawn is None else drawn.tobytes(),
    predictor.model,
)
if dims == 2:
    points = (
        alt.Chart(table)
        .mark_circle(size=50)
        .encode(x="x:Q", y="y:Q", color="label:N", tooltip=["label", "kind", "image"])
    )
    described = (
        f"{count} test digits' features squeezed to 2 dimensions by {method}, coloured by "
        "digit: digits of one kind land near each other."
    )
    chart = points
    if drawn is not None:  # an empty layer would be an unlabelled graphic to a screen reader
        yours = (
            alt.Chart(table[table["kind"] == "your drawing"])
            .mark_point(shape="diamond", size=300, filled=True, color="black")
            .encode(x="x:Q", y="y:Q", tooltip=["kind", "image"])
        )
        chart, described = points + yours, described + " Your drawing is the black diamond."
    st.altair_chart(chart.properties(description=described).interactive(), width="stretch")
else:
    figure = px.scatter_3d(
        table, x="x", y="y", z="z", color="label", symbol="kind", hover_data=["kind"]
    )
    figure.update_traces(marker={"size": 3})
    st.plotly_chart(figure, width="stretch")
