"""Compare: ways to transfer on the same digits, how much data each needs, and where to cut."""

from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st

import pages.common  # noqa: F401  (first, on every page: see _through_app_navigation there)
from tl_core.config import BOTTLENECKS
from tl_core.pipeline.model import bottleneck_shape
from tl_core.teaching.compare import STRATEGIES, CompareSettings, compare, data_size_sweep

SIZES = {"10": 10, "30": 30, "100": 100, "300": 300, "all (400)": 400}
RESULTS, SWEEP, CUTS = "compare_results", "compare_sweep", "compare_cuts"


def settings_row(key: str) -> CompareSettings:
    """The shared budget, as a row of widgets."""
    left, middle, right = st.columns(3)
    per_class = left.select_slider(
        "Training digits per class", [10, 30, 100, 300], 100, key=f"{key}_per_class"
    )
    epochs = middle.number_input("Epochs", 1, 30, 10, key=f"{key}_epochs")
    right.caption(
        "Same digits, augmentation and epochs for every strategy; validation is "
        "on augmented test digits."
    )
    return CompareSettings(per_class=int(per_class), epochs=int(epochs))


def with_progress(total: int, work: Callable[[Callable[[str], None]], object]) -> object:
    """Run `work(listener)` under a progress bar that advances once per strategy trained."""
    bar = st.progress(0.0, text="Starting…")
    done = {"count": 0}

    def listener(message: str) -> None:
        bar.progress(min(done["count"] / total, 1.0), text=message)
        done["count"] += 1

    result = work(listener)
    bar.empty()
    return result


st.title(":material/compare_arrows: Compare ways to transfer")
st.markdown(
    "Does ImageNet pretraining really help? Each strategy below trains on the **same** "
    "digits with the same augmentation; the chart overlays their validation accuracy, epoch "
    "by epoch. Results are saved, so running the same settings again is instant."
)

st.subheader("1. Strategies, one chart")
settings = settings_row("strategies")
keys = st.multiselect(
    "Strategies", list(STRATEGIES), list(STRATEGIES), format_func=STRATEGIES.get, key="keys"
)
if st.button("Run the comparison", key="run_compare", icon=":material/play_arrow:"):
    st.session_state[RESULTS] = with_progress(
        len(keys), lambda listener: compare(settings, tuple(keys), listener)
    )
results = st.session_state.get(RESULTS, [])
for result in results:
    if not result.available:
        st.warning(f"**{result.label}**: unavailable. {result.reason}", icon=":material/warning:")
curves = pd.DataFrame(
    [
        {"strategy": r.label, "epoch": epoch, "validation accuracy": accuracy}
        for r in results
        if r.available
        for epoch, accuracy in enumerate(r.val_accuracy, start=1)
    ]
)
if not curves.empty:
    st.altair_chart(
        alt.Chart(curves)
        .mark_line(point=True)
        .encode(x="epoch:Q", y="validation accuracy:Q", color="strategy:N"),
        width="stretch",
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "strategy": r.label,
                    "test accuracy": r.test_accuracy,
                    "drawn digits": r.drawn_accuracy,
                    "seconds": r.seconds,
                    "available": "yes" if r.available else "no: " + r.reason,
                }
                for r in results
            ]
        ),
        hide_index=True,
    )
    st.caption(
        "Drawn digits: the drawn-digit set (drawn like on the canvas, never trained on). "
        "The develop-model strategy is tested on digits 5-9 only (its new task)."
    )

st.subheader("2. How much data do you need?")
sizes = st.multiselect("Digits per class", list(SIZES), list(SIZES)[:4], key="sizes")
sweep_keys = st.multiselect(
    "Strategies to sweep",
    list(STRATEGIES),
    ["imagenet", "random", "scratch"],
    format_func=STRATEGIES.get,
    key="sweep_keys",
)
if st.button("Run the sweep", key="run_sweep", icon=":material/play_arrow:"):
    sizes_chosen = tuple(SIZES[size] for size in sizes)
    st.session_state[SWEEP] = with_progress(
        len(sizes) * len(sweep_keys),
        lambda listener: data_size_sweep(
            CompareSettings(), sizes_chosen, tuple(sweep_keys), listener
        ),
    )
points = pd.DataFrame(st.session_state.get(SWEEP, []))
if not points.empty:
    points["strategy"] = points["strategy"].map(STRATEGIES)
    st.altair_chart(
        alt.Chart(points)
        .mark_line(point=True)
        .encode(
            x=alt.X("per_class:Q", scale=alt.Scale(type="log"), title="digits per class"),
            y=alt.Y("test_accuracy:Q", title="test accuracy"),
            color="strategy:N",
            tooltip=["strategy", "per_class", "test_accuracy"],
        ),
        width="stretch",
    )

st.subheader("3. Where to cut")
st.markdown(
    "The head can sit on the output of block 3, 4 or 5. Earlier blocks keep more, simpler "
    "features (edges, strokes); later ones fewer, more abstract ones."
)
cut_columns = st.columns(len(BOTTLENECKS))
for column, block in zip(cut_columns, BOTTLENECKS, strict=True):
    shape = bottleneck_shape(32, block)
    column.metric(f"{block} output", f"{shape[0]}x{shape[1]}x{shape[2]}")
    column.caption(f"{shape[0] * shape[1] * shape[2]:,} features per digit at 32x32")
cut_strategy = st.radio(
    "Base weights", ["imagenet", "random"], format_func=STRATEGIES.get, key="cut_strategy"
)
if st.button("Try each cut", key="run_cuts", icon=":material/play_arrow:"):
    st.session_state[CUTS] = with_progress(
        len(BOTTLENECKS),
        lambda listener: {
            block: compare(CompareSettings(bottleneck=block), (cut_strategy,), listener)[0]
            for block in BOTTLENECKS
        },
    )
cuts = st.session_state.get(CUTS, {})
for block, result in cuts.items():
    if not result.available:
        st.warning(f"{block}: unavailable. {result.reason}", icon=":material/warning:")
cut_table = pd.DataFrame(
    [
        {
            "cut": block,
            "test accuracy": r.test_accuracy,
            "drawn digits": r.drawn_accuracy,
            "seconds": r.seconds,
        }
        for block, r in cuts.items()
        if r.available
    ]
)
if not cut_table.empty:
    st.altair_chart(
        alt.Chart(cut_table).mark_bar().encode(x="cut:N", y="test accuracy:Q"), width=400
    )
