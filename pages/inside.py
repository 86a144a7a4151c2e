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
    start_page,
    weights_badge,
)
from tl_core.i18n import N_, Text, _, number
from tl_core.pipeline.images import mosaic
from tl_core.serving.shelf import VIEWING_BASES
from tl_core.teaching.inside import (
    BLOCKS,
    VIEW_INPUT_SIZE,
    feature_maps,
    first_layer_filters,
    strongest_channels,
    viewing_base,
)
from tl_core.teaching.palette import DIGIT_COLOURS
from tl_core.teaching.projection import METHODS, feature_space

start_page()  # first: through app.py (a deep link too), in the session's language

CHANNELS = 16
DRAWING, TEST_DIGIT = "drawing", "test"  # the digit sources (the radio's options)
SOURCES = {DRAWING: N_("your drawing from the Draw page"), TEST_DIGIT: N_("a test digit")}
KINDS = {"test digit": N_("test digit"), "your drawing": N_("your drawing")}  # table's "kind"
YOURS = {"yours": N_("yours")}  # the drawing's "label" in the feature-space table


def blocks_model(run_path: str, model_sha256: str, model: keras.Model) -> keras.Model:
    """The run's base at 96x96 with one output per block, built once per run and server."""
    return VIEWING_BASES.get((run_path, model_sha256), lambda: viewing_base(model))


# A Text spinner: Streamlit shows it with str(), in the reader's language, and only while
# the table is first made (a spinner around the call would start a timer on every run).
@st.cache_data(max_entries=8, show_spinner=Text("Projecting the features…"))
def space(
    run_path: str, count: int, dims: int, method: str, drawn: bytes | None, _model: keras.Model
) -> pd.DataFrame:
    """The feature-space table, once per run, setting and drawing."""
    data = mnist()
    digit = None if drawn is None else np.frombuffer(drawn, np.uint8).reshape(28, 28)
    return feature_space(_model, data.x_test[:count], data.y_test[:count], digit, dims, method)


st.title(_(":material/biotech: Inside the network"))
run, predictor = predictor_in_use()
if run is None:
    st.info(_(NO_MODEL_YET))
    st.stop()
st.caption(_("Model in use: {run} · {weights}", run=run.name, weights=weights_badge(run)))

data = mnist()
drawn = st.session_state.get(DRAWN_DIGIT)
choices = [DRAWING] if drawn is not None else []
choices.append(TEST_DIGIT)
source = st.radio(
    _("Which digit"),
    choices,
    format_func=lambda choice: _(SOURCES[choice]),
    horizontal=True,
    key="inside_source",
)
if source == TEST_DIGIT:
    index = st.number_input(_("test digit number"), 0, len(data.y_test) - 1, 0, key="inside_index")
    digit = data.x_test[int(index)]
else:
    digit = drawn
st.image(
    digit,
    caption=_("the digit (28x28)"),
    width=84,
    alt=_("The digit the maps below come from."),
)

st.subheader(_("Feature maps after each block"))
st.markdown(
    _(
        "The digit goes through the base at {size}x{size}; each grid shows "
        "the {channels} channels it excites most after that block. Early blocks respond to edges "
        "and strokes; later blocks to larger shapes, in coarser maps.",
        size=VIEW_INPUT_SIZE,
        channels=CHANNELS,
    )
)
blocks = blocks_model(*run.model_key, predictor.model)
for block, maps in zip(BLOCKS, feature_maps(blocks, digit), strict=False):
    sheet = mosaic(strongest_channels(maps, CHANNELS), 8)
    scale = max(1, 480 // sheet.shape[1])
    st.image(
        sheet,
        caption=_(
            "{block}: {height}x{width} maps, {channels} channels",
            block=block,
            height=maps.shape[0],
            width=maps.shape[1],
            channels=number(maps.shape[2]),
        ),
        width=sheet.shape[1] * scale,
        alt=_(
            "The {channels} feature maps of {block} that this digit excites most, bright "
            "where a channel responds.",
            channels=CHANNELS,
            block=block,
        ),
    )

st.subheader(_("The first layer's 64 filters"))
if not run.config.is_transfer:
    st.caption(
        _(
            "Each 3x3 filter of block1_conv1, scaled to its own range. These are random weights: "
            "noise, no pattern. Train with pretrained weights to see what photos taught them."
        )
    )
else:
    st.caption(
        _(
            "Each 3x3 filter of block1_conv1, scaled to its own range, as pretraining on photos "
            "left them ({weights}): edge detectors and colour blobs.",
            weights=weights_badge(run),
        )
    )
filters = np.repeat(np.repeat(first_layer_filters(predictor.model), 8, axis=1), 8, axis=2)
st.image(
    mosaic(filters, 16),
    width=16 * 26,
    alt=_("The 64 colour filters of the first layer, 3x3 pixels each, in a grid of 16 by 4."),
)

st.subheader(_("The feature space"))
st.markdown(
    _(
        "The bottleneck features of test digits, squeezed to a few dimensions. Digits of one kind "
        "land near each other; your drawing is the black diamond. Hover a point to see its digit."
    )
)
left, middle, right = st.columns(3)
count = left.select_slider(_("test digits"), [100, 200, 300, 500], 300, key="space_count")
dims = middle.radio(_("dimensions"), [2, 3], horizontal=True, key="space_dims")
method = right.radio(_("projection"), METHODS, horizontal=True, key="space_method")
table = space(
    str(run.path),
    int(count),
    int(dims),
    method,
    None if drawn is None else drawn.tobytes(),
    predictor.model,
)
mine = table["kind"] == "your drawing"  # before the words shown are translated
table = table.assign(
    kind=table["kind"].map(lambda kind: _(KINDS[kind])),
    label=table["label"].map(lambda label: _(YOURS[label]) if label in YOURS else label),
)
label_title, kind_title, image_title = _("label"), _("kind"), _("image")
if dims == 2:
    points = (
        alt.Chart(table)
        .mark_point(size=50, filled=True)
        .encode(
            x="x:Q",
            y="y:Q",
            color=alt.Color("label:N", title=label_title, scale=alt.Scale(range=DIGIT_COLOURS)),
            shape=alt.Shape("label:N", title=label_title),
            tooltip=[
                alt.Tooltip("label:N", title=label_title),
                alt.Tooltip("kind:N", title=kind_title),
                alt.Tooltip("image:N", title=image_title),
            ],
        )
    )
    if drawn is None:
        described = _(
            "{count} test digits' features squeezed to 2 dimensions by {method}, coloured by "
            "digit: digits of one kind land near each other.",
            count=count,
            method=method,
        )
    else:
        described = _(
            "{count} test digits' features squeezed to 2 dimensions by {method}, coloured by "
            "digit: digits of one kind land near each other. Your drawing is the black diamond.",
            count=count,
            method=method,
        )
    chart = points
    if drawn is not None:  # an empty layer would be an unlabelled graphic to a screen reader
        yours = (
            alt.Chart(table[mine])
            .mark_point(shape="diamond", size=300, filled=True, color="black")
            .encode(
                x="x:Q",
                y="y:Q",
                tooltip=[
                    alt.Tooltip("kind:N", title=kind_title),
                    alt.Tooltip("image:N", title=image_title),
                ],
            )
        )
        chart = points + yours
    st.altair_chart(chart.properties(description=described).interactive(), width="stretch")
else:
    figure = px.scatter_3d(
        table,
        x="x",
        y="y",
        z="z",
        color="label",
        symbol="kind",
        color_discrete_sequence=DIGIT_COLOURS,
        hover_data=["kind"],
        labels={"label": label_title, "kind": kind_title},
    )
    figure.update_traces(marker={"size": 3})
    st.plotly_chart(figure, width="stretch")
