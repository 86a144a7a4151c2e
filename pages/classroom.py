"""Class: the class's drawings on the projector, and the model taught our handwriting.

The wall is a fragment that refreshes itself every few seconds from the saved drawings'
file names (tl_core.teaching.classwall), so thirty students drawing never slow it down and
it never reruns the whole page. "Teach it our handwriting" is the server's one heavy job,
like training; its result waits here until the teacher makes it the model in use.
"""

import streamlit as st

from pages.common import (
    NO_MODEL_YET,
    credentials,
    heat_map,
    latest,
    may_control_training,
    model_in_use,
    passcode_box,
    predictor_in_use,
    progress,
    runs,
    server_job,
    speak_the_session_language,
    start,
    start_button,
    start_page,
    translated,
)
from tl_core.errors import DigitLabError
from tl_core.i18n import N_, Text, _, number, percent
from tl_core.pipeline.handwriting import (
    CLASS_SET_CAP,
    RETENTION_DAYS,
    Entry,
    class_entries,
    handwriting_dir,
    load_handwriting,
    read_digit,
)
from tl_core.pipeline.runs import Run
from tl_core.serving.lessonfile import SUFFIX, lesson_files, lessons_dir
from tl_core.teaching.adapt import Adaptation, adapt_to_class, adopt_as_teacher, check_enough
from tl_core.teaching.classwall import WALL_SIZE, in_cell, summarise

start_page()  # first: through app.py (a deep link too), in the session's language

ADAPT_JOB = "adapt"  # the kind of heavy job
PER_ROW = 9
REFRESH_S = 2.0
DIGITS = [str(digit) for digit in range(10)]  # every axis shows all ten, drawn or not
FIELD_TITLES = {  # the wall's chart fields, as their axes and tooltips name them
    "digit": N_("digit"),
    "accuracy": N_("accuracy"),
    "drawings": N_("drawings"),
    "right": N_("right"),
    "meant": N_("meant"),
    "guess": N_("guess"),
}
ACCURACY_BARS = {
    "mark": "bar",
    "encoding": {
        "x": {
            "field": "digit",
            "type": "ordinal",
            "axis": {"labelAngle": 0},
            "scale": {"domain": DIGITS},
        },
        "y": {"field": "accuracy", "type": "quantitative", "scale": {"domain": [0, 1]}},
        "tooltip": [{"field": "drawings"}, {"field": "right"}],
    },
}
CONFUSION_CELLS = {
    "params": [{"name": "cell", "select": {"type": "point", "fields": ["meant", "guess"]}}],
    "mark": {"type": "rect", "cursor": "pointer"},
    "encoding": {
        "x": {
            "field": "guess",
            "type": "ordinal",
            "title": N_("the model read"),
            "axis": {"labelAngle": 0},
            "scale": {"domain": DIGITS},
        },
        "y": {
            "field": "meant",
            "type": "ordinal",
            "title": N_("the student meant"),
            "scale": {"domain": DIGITS},
        },
        "color": {"field": "drawings", "type": "quantitative", "legend": None},
        "tooltip": [{"field": "meant"}, {"field": "guess"}, {"field": "drawings"}],
    },
}


def thumbnails(
    entries: list[Entry], teacher: bool, where: str, explained_by: Run | None = None
) -> None:
    """The drawings as a grid, each with the guess, its confidence and a tick or a cross;
    the teacher also gets a remove button under each (`where` keeps the buttons of two
    grids apart: a drawing can be in both). With `explained_by`, each drawing is shown as
    that run's heat map (tl_core.teaching.explain)."""
    folder = handwriting_dir()
    shown = [(entry, read_digit(folder / entry.name)) for entry in entries]
    unreadable = sum(digit is None for __, digit in shown)
    if unreadable:
        st.warning(
            _(
                "{count} drawing(s) could not be read back and are skipped.",
                count=number(unreadable),
            )
        )
    shown = [(entry, digit) for entry, digit in shown if digit is not None]
    for start_at in range(0, len(shown), PER_ROW):
        for column, (entry, digit) in zip(
            st.columns(PER_ROW), shown[start_at : start_at + PER_ROW], strict=False
        ):
            if explained_by is None:
                column.image(digit, width=64, alt=str(entry.sentence()))
            else:
                column.image(
                    heat_map(*explained_by.model_key, digit),
                    width=96,
                    alt=_(
                        "{drawing} Coloured by what led the network to its guess.",
                        drawing=str(entry.sentence()),
                    ),
                )
            column.markdown(verdict(entry))
            if teacher and column.button(
                _("Remove"),
                key=f"remove_{where}_{entry.name}",
                icon=":material/delete:",
                type="tertiary",
            ):
                server_job().remove_drawing(entry.name, *credentials())
                st.rerun(scope="fragment")


def verdict(entry: Entry) -> str:
    """A tick or a cross, the guess and its confidence (and what was meant, if wrong)."""
    if entry.guess is None:
        return _("meant **{digit}**", digit=entry.label)
    sure = f" · {percent(entry.confidence)}" if entry.confidence is not None else ""
    if entry.is_right:
        return f":green[:material/check:] **{entry.guess}**{sure}"
    return _(
        ":red[:material/close:] **{guess}**{sure} (meant {digit})",
        guess=entry.guess,
        sure=sure,
        digit=entry.label,
    )


@st.fragment(run_every=REFRESH_S)
def wall() -> None:
    """The live part: counts, per-digit accuracy, confusions and the newest drawings."""
    speak_the_session_language()  # a fragment's own rerun runs without app.py
    entries = class_entries()
    summary = summarise(entries)
    st.subheader(str(summary.sentence))
    if not entries:
        return
    left, right = st.columns(2)
    with left:
        st.markdown(_("**Read right, per digit meant**"))
        st.vega_lite_chart(summary.per_digit(), translated(ACCURACY_BARS, FIELD_TITLES), height=260)
    with right:
        st.markdown(_("**What it read, for what we meant** (click a square to see those)"))
        event = st.vega_lite_chart(
            summary.confusions(),
            translated(CONFUSION_CELLS, FIELD_TITLES),
            height=260,
            on_select="rerun",
            key="cells",
        )
    confused = summary.most_confused()
    if confused:
        pairs = " · ".join(
            _("{meant} read as {guess} ({count})", meant=m, guess=g, count=number(n))
            for m, g, n in confused
        )
        st.caption(_("Confused most: {pairs}", pairs=pairs))
    teacher = may_control_training()
    chosen = (event["selection"].get("cell") or [None])[0] if event else None
    if chosen:
        meant, guess = int(chosen["meant"]), int(chosen["guess"])
        cell = in_cell(entries, meant, guess)
        st.markdown(
            _(
                "**{count} drawing(s) meant as {meant}, read as {guess}**",
                count=number(len(cell)),
                meant=meant,
                guess=guess,
            )
        )
        # the model loaded first: a damaged model file is a sentence here, not a traceback
        run = predictor_in_use()[0] if meant != guess else None
        if run is not None:
            st.caption(
                _(
                    "Why, by the model in use ({run}): orange marks the strokes that pushed "
                    "it toward its guess, blue those that pointed to its second choice.",
                    run=run.name,
                )
            )
        thumbnails(cell[:WALL_SIZE], teacher, "cell", explained_by=run)
    st.markdown(
        _(
            "**The newest {shown} of {count} drawings**",
            shown=number(min(WALL_SIZE, len(entries))),
            count=number(len(entries)),
        )
    )
    thumbnails(entries[:WALL_SIZE], teacher, "newest")


def new_class_set() -> None:
    """The teacher ends a lesson's class set: its drawings put aside or deleted."""
    with st.expander(_("Start a new class set"), icon=":material/restart_alt:"):
        keep = st.radio(
            _("The drawings now on the wall"),
            [True, False],
            format_func=lambda kept: (
                _("put aside (kept, not shown or trained on)") if kept else _("deleted")
            ),
            key="keep_old_set",
        )
        if st.button(_("Start a new class set"), key="new_set", icon=":material/restart_alt:"):
            try:
                count = server_job().new_class_set(keep, *credentials())
            except (DigitLabError, OSError) as error:  # a folder that can't be written
                st.error(_("The class set could not be changed ({reason}).", reason=error))
            else:
                st.toast(_("A new class set: {count} drawings left the wall.", count=number(count)))
                st.rerun()


def lesson_files_box() -> None:
    """The teacher's lesson as one file: saved to take home or to another computer, or
    opened from the server's lessons folder (a lesson is larger than an upload may be)."""
    with st.expander(_("Save or open a lesson"), icon=":material/save:"):
        run = model_in_use()
        entered, here = credentials()
        if run is None:
            st.caption(_(NO_MODEL_YET))
        else:
            st.download_button(
                _("Save this lesson"),
                data=lambda: server_job().lesson_bytes(run, entered, here),
                file_name=f"digit-lab-{run.name}{SUFFIX}",
                mime="application/zip",
                on_click="ignore",
                icon=":material/download:",
                help=_("The model in use with its run record, and the class set's drawings."),
            )
        files = lesson_files()
        st.caption(
            _(
                "To open a lesson, put its file in `{folder}` on the server (or run `python -m "
                "tl_core lesson open FILE` there).",
                folder=str(lessons_dir()),
            )
        )
        if not files:
            return
        chosen = st.selectbox(
            _("Lesson files on this server"), files, format_func=lambda path: path.name
        )
        if st.button(_("Open this lesson"), key="open_lesson", icon=":material/upload_file:"):
            try:
                summary = server_job().open_lesson(chosen, entered, here)
            except DigitLabError as error:
                st.error(str(error))
            else:
                st.success(
                    _(
                        "Opened: run {run} is now the model in use; {count} drawings joined "
                        "the class set.",
                        run=summary.run_name,
                        count=number(summary.drawings),
                    )
                )


def adaptation_result(adaptation: Adaptation) -> None:
    """Old and new model side by side, and the teacher's choice to use the new one."""
    st.markdown(
        _(
            "Adapted from **{source}** in {seconds} s, trained on "
            "{trained} of our drawings; {held} were held "
            "out and never trained on.",
            source=adaptation.source,
            seconds=number(adaptation.seconds),
            trained=number(len(adaptation.trained_on)),
            held=number(len(adaptation.held_out)),
        )
    )
    held, mnist = st.columns(2)
    for column, key, label in (
        (held, "class", _("Our held-out drawings")),
        (mnist, "mnist", _("MNIST test digits")),
    ):
        before, after = adaptation.before[key], adaptation.after[key]
        change = percent(after - before)
        if not change.startswith("-"):  # a sign either way, as f"{x:+.0%}" wrote it
            change = "+" + change
        column.metric(
            label,
            percent(after),
            _("{change} (was {before})", change=change, before=percent(before)),
            delta_color="normal",
        )
    adopted = next((run for run in runs() if run.status.get("adaptation") == adaptation.id), None)
    if adopted is not None:
        st.success(
            _(
                "Saved as run {run}: the model in use on every screen, until a newer "
                "run (or a student's own choice on Results).",
                run=adopted.name,
            ),
            icon=":material/check:",
        )
    elif may_control_training() and st.button(
        _("Use the adapted model"), key="adopt", icon=":material/published_with_changes:"
    ):
        try:
            adopt_as_teacher(adaptation, server_job(), *credentials())
        except DigitLabError as error:  # a runs folder that can't be written, a full disk
            st.error(str(error))
        else:
            st.rerun()


st.title(_(":material/groups: Our class's drawings"))
st.caption(
    _(
        "Drawings that students chose to add on Draw (a tap on “right” or “I meant…”), newest "
        "first. No names are kept. The set holds up to {cap} drawings, each deleted after "
        "{days} days.",
        cap=number(CLASS_SET_CAP),
        days=number(RETENTION_DAYS),
    )
)
wall()

st.subheader(_("Teach it our handwriting"))
st.markdown(
    _(
        "Transfer learning once more, with a data set made in this room: the model in use "
        "trains a few more epochs on three in four of our drawings (mixed with MNIST digits, so "
        "it keeps what it knew). The other quarter is held out, to test it fairly."
    )
)
if not may_control_training():
    st.info(
        _(
            "Only the teacher removes drawings, starts a new class set and teaches the model: "
            "enter the passcode."
        )
    )
    passcode_box()
run = model_in_use()
if run is None:
    st.info(_(NO_MODEL_YET))
elif start_button(_("Teach it our handwriting"), "start_adapt"):
    drawings = load_handwriting()
    try:
        check_enough(drawings)
    except DigitLabError as error:
        st.warning(str(error))
    else:
        start(
            ADAPT_JOB,
            Text("Teaching it our handwriting"),
            lambda report: adapt_to_class(run, drawings, report),
        )
result = latest(ADAPT_JOB)
progress(ADAPT_JOB)
if result is not None:
    adaptation_result(result)
if may_control_training():
    new_class_set()
    lesson_files_box()
