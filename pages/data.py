"""Data: what MNIST digits look like, and what augmentation does to them."""

import numpy as np
import streamlit as st

from pages.common import mnist, start_page
from tl_core.config import Ranges, TrainConfig
from tl_core.i18n import _, number
from tl_core.pipeline.augment import augment
from tl_core.pipeline.data import first_of_each_digit
from tl_core.pipeline.images import mosaic

start_page()  # first: through app.py (a deep link too), in the session's language

PER_DIGIT = 12
ZOOM = 3  # draw each 28x28 digit 3x larger

st.title(":material/grid_view: " + _("The digits"))
data = mnist()
st.caption(
    _(
        "Source: {source} · {train} training and {test} test digits",
        source=data.source,
        train=number(len(data.y_train)),
        test=number(len(data.y_test)),
    )
)

st.subheader(_("Samples, one row per digit"))
grid = mosaic(first_of_each_digit(data.x_train, data.y_train, PER_DIGIT), PER_DIGIT)
st.image(
    grid,
    width=grid.shape[1] * ZOOM,
    clamp=True,
    alt=_("{count} training digits of each digit, 0 to 9, one row per digit.", count=PER_DIGIT),
)

st.subheader(_("Augmentation preview"))
st.markdown(
    _(
        "Before training, every digit is copied with a random rotation, slant, shift, zoom and "
        "pen width, so the network learns digits the way a class draws them: tilted or leaning, "
        "off-centre, small or large, with a thin or a thick pen. The test set is augmented too: "
        "the Results page reports accuracy on clean and on augmented test digits."
    )
)
defaults = TrainConfig()
columns = st.columns(6)
ranges = Ranges(
    rotation=columns[0].slider(
        _("rotation (degrees)"), 0.0, 45.0, defaults.rotation, key="aug_rotation"
    ),
    shift=columns[1].slider(
        _("shift (fraction of the side)"), 0.0, 0.3, defaults.shift, key="aug_shift"
    ),
    zoom=columns[2].slider(_("zoom (fraction)"), 0.0, 0.5, defaults.zoom, key="aug_zoom"),
    shear=columns[3].slider(
        _("slant (shift per pixel down)"), 0.0, 1.0, defaults.shear, key="aug_shear"
    ),
    stroke=columns[4].slider(
        _("pen width change (pixels)"), 0.0, 2.0, defaults.stroke, key="aug_stroke"
    ),
)
seed = columns[5].number_input(_("seed"), 0, 10_000, 0, key="aug_seed")
for tab, (x, y) in zip(
    st.tabs([_("train set"), _("test set")]),
    [(data.x_train, data.y_train), (data.x_test, data.y_test)],
    strict=True,
):
    originals = first_of_each_digit(x, y, 1)
    changed = augment(originals, ranges, seed=int(seed))
    tab.markdown(_("**before** (top) and **after** (bottom)"))
    sheet = mosaic(np.concatenate([originals, changed]), 10)
    tab.image(
        sheet,
        width=sheet.shape[1] * ZOOM,
        clamp=True,
        alt=_("One digit of each kind, 0 to 9, as stored (top row) and augmented (bottom row)."),
    )
