"""Compare: ways to transfer on the same digits, how much data each needs, and where to cut.

Each button here trains several networks, so it runs as the server's one heavy job (like
Training): only whoever may start training sees the buttons, every tab sees the progress,
and the last result of each section stays on the page for everyone.
"""

import altair as alt
import pandas as pd
import streamlit as st

from pages.common import (
    latest,
    may_control_training,
    passcode_box,
    progress,
    start,
    start_button,
    start_page,
)
from tl_core.config import BOTTLENECKS
from tl_core.i18n import N_, Text, _, number
from tl_core.pipeline.model import bottleneck_shape
from tl_core.serving.hosting import hosting_limits
from tl_core.teaching.compare import (
    STRATEGIES,
    CompareSettings,
    comparison_work,
    cuts_work,
    sweep_work,
)
from tl_core.teaching.palette import OKABE_ITO

start_page()  # first: through app.py (a deep link too), in the session's language

SIZES = {"10": 10, "30": 30, "100": 100, "300": 300, "all (400)": 400}
SIZE_LABELS = {"all (400)": N_("all (400)")}  # the sizes shown in words; the others are numbers
STRATEGIES_JOB, SWEEP_JOB, CUTS_JOB = "compare", "sweep", "cuts"  # kinds of heavy job
SCORED_ON = {"test_accuracy": N_("MNIST test"), "people_accuracy": N_("people's digits")}
SERIES = alt.Scale(range=list(OKABE_ITO))  # a colour per strategy, told apart when colour-blind


def strategy_label(key: str) -> str:
    """A strategy's name, in the reader's language."""
    return _(STRATEGIES[key])


def within_limits(sizes: list[int]) -> list[int]:
    """The digits-per-class choices this server allows (a hosted classroom caps them)."""
    cap = hosting_limits().max_compare_per_class
    return [size for size in sizes if cap is None or size <= cap]


def settings_row(key: str) -> CompareSettings:
    """The shared budget, as a row of widgets."""
    left, middle, right = st.columns(3)
    per_class = left.select_slider(
        _("Training digits per class"),
        within_limits([10, 30, 100, 300]),
        100,
        key=f"{key}_per_class",
    )
    epochs = middle.number_input(_("Epochs"), 1, 30, 10, key=f"{key}_epochs")
    right.caption(
        _(
            "Same digits, augmentation and epochs for every strategy; validation is "
            "on augmented test digits."
        )
    )
    return CompareSettings(per_class=int(per_class), epochs=int(epochs))


st.title(_(":material/compare_arrows: Compare ways to transfer"))
st.markdown(
    _(
        "Does pretraining on photos really help? Each strategy below trains on the **same** "
        "digits with the same augmentation; the chart overlays their validation accuracy, epoch "
        "by epoch, and the table scores each on MNIST and on **real people's digits**, written "
        "by people no strategy trained on. Results are saved, so running the same settings "
        "again is instant."
    )
)
if not may_control_training():
    st.info(
        _(
            "Only the teacher starts these: each trains several networks on the server's "
            "cores. When one is done, its results appear here, on every screen."
        )
    )
    passcode_box()

st.subheader(_("1. Strategies, one chart"))
settings = settings_row("strategies")
keys = st.multiselect(
    _("Strategies"), list(STRATEGIES), list(STRATEGIES), format_func=strategy_label, key="keys"
)
if start_button(_("Run the comparison"), "run_compare"):
    start(
        STRATEGIES_JOB,
        Text("Compare: {count} strategies", count=len(keys)),
        comparison_work(settings, tuple(keys)),
    )
results = latest(STRATEGIES_JOB) or []
progress(STRATEGIES_JOB)
for result in results:
    if not result.available:
        st.warning(
            _(
                "**{strategy}**: unavailable. {reason}",
                strategy=str(result.label),
                reason=str(result.reason),
            ),
            icon=":material/warning:",
        )
curves = pd.DataFrame(
    [
        {"strategy": str(r.label), "epoch": epoch, "validation accuracy": accuracy}
        for r in results
        if r.available
        for epoch, accuracy in enumerate(r.val_accuracy, start=1)
    ]
)
if not curves.empty:
    st.altair_chart(
        alt.Chart(curves)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title=_("epoch")),
            y=alt.Y("validation accuracy:Q", title=_("validation accuracy")),
            color=alt.Color("strategy:N", title=_("strategy"), scale=SERIES),
        ),
        width="stretch",
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    _("strategy"): str(r.label),
                    _("MNIST test"): r.test_accuracy,
                    _("people's digits"): r.people_accuracy,
                    _("drawn-digit set"): r.drawn_accuracy,
                    _("seconds"): r.seconds,
                    _("available"): (
                        _("yes") if r.available else _("no: {reason}", reason=str(r.reason))
                    ),
                }
                for r in results
            ]
        ),
        hide_index=True,
    )
    st.caption(
        _(
            "People's digits: written with a stylus by people no strategy trained on (UCI pen "
            "digits). Drawn-digit set: made by this project to check the canvas path. The "
            "develop-model strategy is tested on digits 5-9 only (its new task)."
        )
    )

st.subheader(_("2. How much data do you need?"))
allowed = [name for name in SIZES if SIZES[name] in within_limits(list(SIZES.values()))]
sizes = st.multiselect(
    _("Digits per class"),
    allowed,
    allowed[:4],
    format_func=lambda size: _(SIZE_LABELS[size]) if size in SIZE_LABELS else size,
    key="sizes",
)
sweep_keys = st.multiselect(
    _("Strategies to sweep"),
    list(STRATEGIES),
    ["pretrained", "random", "scratch"],
    format_func=strategy_label,
    key="sweep_keys",
)
if start_button(_("Run the sweep"), "run_sweep"):
    sizes_chosen = tuple(SIZES[size] for size in sizes)
    work = sweep_work(CompareSettings(), sizes_chosen, tuple(sweep_keys))
    title = Text("Data-size sweep: {count} trainings", count=len(sizes) * len(sweep_keys))
    start(SWEEP_JOB, title, work)
points = pd.DataFrame(latest(SWEEP_JOB) or [])
progress(SWEEP_JOB)
if not points.empty:
    points["strategy"] = points["strategy"].map(strategy_label)
    measured = points.melt(
        id_vars=["strategy", "per_class"],
        value_vars=["test_accuracy", "people_accuracy"],
        var_name="scored on",
        value_name="accuracy",
    )
    measured["scored on"] = measured["scored on"].map(lambda scored: _(SCORED_ON[scored]))
    st.altair_chart(
        alt.Chart(measured)
        .mark_line(point=True)
        .encode(
            x=alt.X("per_class:Q", scale=alt.Scale(type="log"), title=_("digits per class")),
            y=alt.Y("accuracy:Q", title=_("accuracy"), scale=alt.Scale(zero=False)),
            color=alt.Color("strategy:N", title=_("strategy"), scale=SERIES),
            strokeDash=alt.StrokeDash("scored on:N", title=_("scored on")),
            tooltip=[
                alt.Tooltip("strategy:N", title=_("strategy")),
                alt.Tooltip("scored on:N", title=_("scored on")),
                alt.Tooltip("per_class:Q", title=_("digits per class")),
                alt.Tooltip("accuracy:Q", title=_("accuracy")),
            ],
        ),
        width="stretch",
    )

st.subheader(_("3. Where to cut"))
st.markdown(
    _(
        "The head can sit on the output of block 3, 4 or 5. Lower layers are **general** "
        "(edges, strokes: useful for digits too); upper layers are **specific** to the task "
        "the base was trained on. With the edge-detection VGG16 (ImageNet, then edges), cutting "
        "after block 4 read people's digits best when the defaults were chosen "
        "(docs/choices.md); try it here with the weights this machine has."
    )
)
cut_columns = st.columns(len(BOTTLENECKS))
for column, block in zip(cut_columns, BOTTLENECKS, strict=True):
    shape = bottleneck_shape(32, block)
    column.metric(_("{block} output", block=block), f"{shape[0]}x{shape[1]}x{shape[2]}")
    column.caption(
        _("{count} features per digit at 32x32", count=number(shape[0] * shape[1] * shape[2]))
    )
cut_strategy = st.radio(
    _("Base weights"), ["pretrained", "random"], format_func=strategy_label, key="cut_strategy"
)
if start_button(_("Try each cut"), "run_cuts"):
    title = Text("Where to cut: {count} trainings", count=len(BOTTLENECKS))
    start(CUTS_JOB, title, cuts_work(cut_strategy))
cuts = latest(CUTS_JOB) or {}
progress(CUTS_JOB)
for block, result in cuts.items():
    if not result.available:
        st.warning(
            _("{block}: unavailable. {reason}", block=block, reason=str(result.reason)),
            icon=":material/warning:",
        )
cut_table = pd.DataFrame(
    [
        {
            _("cut"): block,
            _(SCORED_ON["test_accuracy"]): r.test_accuracy,
            _(SCORED_ON["people_accuracy"]): r.people_accuracy,
            _("seconds"): r.seconds,
        }
        for block, r in cuts.items()
        if r.available
    ]
)
if not cut_table.empty:
    bars = cut_table.melt(
        id_vars=[_("cut")],
        value_vars=[_(label) for label in SCORED_ON.values()],
        var_name="scored on",
    ).rename(columns={_("cut"): "cut"})  # the chart's own field names; its titles translate
    st.altair_chart(
        alt.Chart(bars)
        .mark_bar()
        .encode(
            x=alt.X("scored on:N", title=None),
            y=alt.Y("value:Q", title=_("accuracy")),
            color=alt.Color("scored on:N", title=_("scored on"), scale=SERIES),
            column=alt.Column("cut:N", title=_("cut")),
            tooltip=[
                alt.Tooltip("cut:N", title=_("cut")),
                alt.Tooltip("scored on:N", title=_("scored on")),
                alt.Tooltip("value:Q", title=_("accuracy")),
            ],
        )
    )
    st.dataframe(cut_table, hide_index=True)
