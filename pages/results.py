"""Results: how good the model in use is, where it goes wrong, and which run to use."""

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from pages.common import (
    MODEL_CHOICE,
    NO_MODEL_YET,
    curves,
    evaluation,
    model_in_use,
    predictor,
    predictor_in_use,
    runs,
    start_page,
    weights_badge,
)
from tl_core.errors import DigitLabError
from tl_core.i18n import N_, _, number, percent
from tl_core.pipeline.evaluate import commonest_confusions, score, weakest_digit
from tl_core.pipeline.handwriting import load_handwriting, not_trained_on
from tl_core.pipeline.images import mosaic
from tl_core.pipeline.people import CREDIT
from tl_core.pipeline.runs import STATE_NAMES
from tl_core.pipeline.weights import label_text
from tl_core.serving.export import USAGE, keras_bytes, tflite_bytes

start_page()  # first: through app.py (a deep link too), in the session's language

MAX_SHOWN = 40
LAST_CELL = "last_confusion_cell"  # session key: the cell clicked last, so a click picks once


@st.cache_data(max_entries=8, show_spinner=False)
def handwriting_accuracy(
    run_path: str, model_sha256: str, names: tuple[str, ...]
) -> tuple[float, int]:
    """(accuracy, drawings) of a run on these class drawings: computed once per set of
    drawings, not on every student's visit (the set holds up to 2,000)."""
    drawings = load_handwriting()
    drawings = drawings.only(np.isin(np.array(drawings.names, dtype=object), names))
    probabilities = predictor(run_path, model_sha256).probabilities(drawings.x)
    return score(probabilities, drawings.y)["accuracy"], len(drawings)


def scored_set(
    column: Any, metrics: dict[str, Any], label: str, name: str, count: str, about: str, older: str
) -> None:
    """The accuracy on one scored set (`<name>_accuracy`, `<name>_digits` in the metrics),
    or "not measured" for a run older than that set. `count` is a message marked with `N_`
    and a `{count}` field ("{count} digits"); `older` says the run is older than the set."""
    if f"{name}_accuracy" not in metrics:
        column.metric(label, _("not measured"))
        column.caption(older)
        return
    digits = _(count, count=number(metrics[f"{name}_digits"]))
    column.metric(label, percent(metrics[f"{name}_accuracy"], 1), digits, delta_color="off")
    column.caption(about)


st.title(":material/analytics: " + _("Results"))
all_runs = runs()
run = model_in_use()
if run is None:
    st.info(_(NO_MODEL_YET))
    st.stop()

st.caption(
    _(
        "Model in use: {run} · {weights} · data: {source}",
        run=run.name,
        weights=weights_badge(run),
        source=_(run.status["data_source"]) if run.status.get("data_source") else "",
    )
)
metrics = run.metrics
left, right, people, ours, drawn, third = st.columns(6)
left.metric(_("MNIST (clean)"), percent(metrics["test_accuracy"], 1))
right.metric(_("MNIST (augmented)"), percent(metrics["test_accuracy_augmented"], 1))
scored_set(
    people,
    metrics,
    _("Real people's digits"),
    "people",
    N_("{count} digits"),
    _("Written by people this run never trained on: the honest yardstick."),
    _("This run is older than the real people's digits: train again."),
)
scored_set(
    drawn,
    metrics,
    _("Drawn-digit set"),
    "drawn",
    N_("{count} drawings"),
    _("Made by this project to check the canvas path, not people (README)."),
    _("This run is older than the drawn-digit set: train again."),
)
trained_on = run.status.get("handwriting_trained", [])
unseen = tuple(not_trained_on(trained_on))
__, shared = predictor_in_use()
if unseen and shared is not None:
    accuracy, count = handwriting_accuracy(*run.model_key, unseen)
    ours.metric(
        _("Our handwriting"),
        percent(accuracy, 1),
        _("{count} drawings", count=number(count)),
        delta_color="off",
    )
    ours.caption(
        _("The drawings this run held out (it trained on the others).")
        if trained_on
        else _("All the class's drawings (this run did not train on them).")
    )
else:
    ours.metric(_("Our handwriting"), _("none yet"))
    ours.caption(_("Answer “right” or “I meant…” after a guess on Draw to see this."))
third.metric(_("Training time"), _("{seconds} s", seconds=number(metrics.get("seconds", 0))))

if run.history:
    curves(run.history)

if "people_per_digit" in metrics:
    st.subheader(_("Real people's digits, digit by digit"))
    per_digit = pd.DataFrame(
        {"digit": [str(d) for d in range(10)], "accuracy": metrics["people_per_digit"]}
    )
    st.bar_chart(
        per_digit, x="digit", y="accuracy", x_label=_("digit"), y_label=_("accuracy"), height=220
    )
    misread = ", ".join(str(each) for each in commonest_confusions(metrics["confusion_people"]))
    st.caption(
        _(
            "Weakest digit and its accuracy: {weakest}. Most often misread: {misread}. ({credit}.)",
            weakest=weakest_digit(metrics["people_per_digit"]),
            misread=misread or _("nothing"),
            credit=_(CREDIT),
        )
    )

st.subheader(_("Confusion matrix (clean test digits)"))
st.caption(_("Rows: the true digit. Columns: the network's guess. The diagonal is correct."))
confusion = np.array(metrics["confusion"])
cells = pd.DataFrame(
    [(str(t), str(g), int(confusion[t, g])) for t in range(10) for g in range(10)],
    columns=["true", "guess", "count"],
)
cell = alt.selection_point(name="cell", fields=["true", "guess"])
heatmap = (
    alt.Chart(cells)
    .mark_rect()
    .encode(
        x=alt.X("guess:O", title=_("guess")),
        y=alt.Y("true:O", title=_("true")),
        color=alt.Color(
            "count:Q", title=_("count"), scale=alt.Scale(scheme="blues", type="symlog")
        ),
        tooltip=[
            alt.Tooltip("true:O", title=_("true")),
            alt.Tooltip("guess:O", title=_("guess")),
            alt.Tooltip("count:Q", title=_("count")),
        ],
    )
    .add_params(cell)
)
on_text = alt.selection_point(name="cell_text", fields=["true", "guess"])  # clicks on a count
labels = (
    alt.Chart(cells)
    .mark_text()
    .encode(x="guess:O", y="true:O", text="count:Q", color=alt.value("black"))
    .add_params(on_text)
)
selection = st.altair_chart(
    alt.layer(heatmap, labels), width=420, on_select="rerun", key="confusion_chart"
).selection
clicked = selection.get("cell") or selection.get("cell_text")
st.caption(_("Click a cell to see those test digits below."))

st.subheader(_("Mistakes, up close"))
if clicked and clicked != st.session_state.get(LAST_CELL):  # a new click picks the cell
    st.session_state[LAST_CELL] = clicked
    st.session_state["true"], st.session_state["guess"] = (
        int(clicked[0]["true"]),
        int(clicked[0]["guess"]),
    )
pick_true, pick_guess = st.columns(2)
errors = confusion - np.diag(np.diag(confusion))
worst_true, worst_guess = np.unravel_index(errors.argmax(), errors.shape)
st.session_state.setdefault("true", int(worst_true))
st.session_state.setdefault("guess", int(worst_guess))
true_digit = pick_true.selectbox(_("true digit"), range(10), key="true")
guess = pick_guess.selectbox(_("guessed as"), range(10), key="guess")
try:
    result = evaluation(*run.model_key)
except DigitLabError as error:
    st.error(str(error))
    st.stop()
indices = result.misclassified(true_digit, guess)[:MAX_SHOWN]
if len(indices) == 0:
    st.info(_("No test digit {true} was guessed as {guess}.", true=true_digit, guess=guess))
else:
    st.image(
        mosaic(result.data.x_test[indices], 10),
        width=600,
        clamp=True,
        caption=_(
            "{count} test digit(s) {true} guessed as {guess}",
            count=len(indices),
            true=true_digit,
            guess=guess,
        ),
        alt=_(
            "{count} test digits {true} that the network read as {guess}.",
            count=len(indices),
            true=true_digit,
            guess=guess,
        ),
    )
    st.dataframe(
        pd.DataFrame(result.probabilities[indices].round(3), columns=[str(d) for d in range(10)]),
        height=200,
    )

st.subheader(_("All runs"))
complete = [r for r in all_runs if r.is_complete]
table = pd.DataFrame(
    [
        {
            _("run"): r.name,
            _("state"): _(STATE_NAMES.get(r.state, r.state)),
            _("weights"): str(label_text(r.status.get("weights", ""))),
            _("test accuracy"): (r.metrics or {}).get("test_accuracy"),
            _("augmented"): (r.metrics or {}).get("test_accuracy_augmented"),
            _("people's digits"): (r.metrics or {}).get("people_accuracy"),
            _("digits"): r.status.get("train_digits"),
        }
        for r in all_runs
    ]
)
st.dataframe(table, hide_index=True)
names = [r.name for r in complete]
current = names.index(run.name) if run.name in names else 0
choice = st.selectbox(_("Model in use (for you)"), names, index=current)
if choice != run.name:
    st.session_state[MODEL_CHOICE] = choice
    st.rerun()

st.subheader(_("Take the model home"))
st.markdown(
    _(
        "The model in use, to keep: as a **Keras** file, or as **TensorFlow Lite** for a phone "
        "or a small board. The TensorFlow Lite model prepares a digit itself (straightens, "
        "resizes and normalises it, as here): give it a 28x28 digit cut out of a drawing."
    )
)
keras_column, tflite_column = st.columns(2)
keras_column.download_button(
    _("Download .keras"),
    lambda: keras_bytes(run),
    file_name=f"digit-lab-{run.name}.keras",
    mime="application/octet-stream",
    icon=":material/download:",
    on_click="ignore",
)
if shared is not None:
    tflite_column.download_button(
        _("Download .tflite"),
        lambda: tflite_bytes(run, shared),
        file_name=f"digit-lab-{run.name}.tflite",
        mime="application/octet-stream",
        icon=":material/download:",
        on_click="ignore",
    )
with st.expander(_("Use it in your own code"), icon=":material/code:"):
    name = f"digit-lab-{run.name}"
    st.code(_(USAGE, name=name), language="python")
