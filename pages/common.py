"""What every page shares: one heavy job and one loaded model per server process.

The job and the loaded models are plain objects of the server process (tl_core.serving.jobs
and .shelf), never in `st.cache_resource`, which one `clear_cache` message from any browser
empties for everyone: thirty students share one model in memory and one job (training or a
comparison); per-student choices stay in `st.session_state`. Who the teacher is comes from
the session's TCP peer (`on_this_computer`), read from Streamlit's runtime. Importing this
module first also fixes two Streamlit defaults that a class would feel (see
`_through_app_navigation` and `_keep_the_keras_session`); both reach into Streamlit's
internals, and tests/test_streamlit_guards.py fails, naming what broke, when an upgrade
moves them.
"""

import contextlib
import sys
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx, script_runner

from tl_core.quiet import quiet_native_log

quiet_native_log()  # before TensorFlow loads: no native start-up log in the server's output

from tl_core.errors import DigitLabError, NotAllowed, RunError
from tl_core.i18n import LANGUAGES, N_, Text, _, language_from_locale, use_language
from tl_core.pipeline.data import MnistData, load_mnist
from tl_core.pipeline.runs import (
    Run,
    find_run,
    latest_complete_run,
    list_runs,
    load_model,
    read_run,
    resolve_runs_dir,
)
from tl_core.serving.access import (
    PASSCODE_GATE,
    TEACHER_HERE,
    TeacherKey,
    is_this_computer,
    not_allowed,
    server_key,
    wait_sentence,
)
from tl_core.serving.hosting import students_can_reach
from tl_core.teaching.palette import OKABE_ITO

if TYPE_CHECKING:  # TensorFlow loads with the first page that needs it, never with Home
    import numpy as np

    from tl_core.pipeline.evaluate import Evaluation
    from tl_core.pipeline.predict import Predictor
    from tl_core.serving.jobs import JobStatus, ServerJob
    from tl_core.serving.shelf import Shelf

MODEL_CHOICE = "model_run"  # session key: the run a student picked on the Results page
PASSCODE = "teacher_passcode"  # session key: the passcode this session entered, if any
PASSCODE_FIELD = "teacher_passcode_field"  # the text field's own key (see passcode_box)
PASSCODE_REFUSED = "teacher_passcode_refused"  # session key: why the last passcode was refused
DRAWN_DIGIT = "drawn_digit"  # session key: the student's last prepared 28x28 drawing
THROUGH_APP = "through_app_navigation"  # session key: this session's runs go through app.py
SHOWN = "job_shown_{}"  # session key: the result of a kind of heavy job this tab has drawn
LANGUAGE = "language"  # session key: the language this tab reads
LANGUAGE_MENU = "language_menu"  # the sidebar menu's own key (see language_menu)
NO_MODEL_YET = N_("There is no trained model yet: train one on the Train page, then come back.")


def language_menu() -> None:
    """The sidebar's language menu, for this session only; the browser's language is the
    default. `app.py` draws it before the page, so every page and its titles follow it. The
    choice is copied to a plain session key, as the passcode is (see passcode_box), so no
    rerun can lose it."""
    st.session_state.setdefault(LANGUAGE, language_from_locale(st.context.locale))
    use_language(st.session_state[LANGUAGE])

    def chosen() -> None:
        st.session_state[LANGUAGE] = st.session_state[LANGUAGE_MENU]

    codes = list(LANGUAGES)
    st.sidebar.selectbox(
        _("Language"),
        codes,
        index=codes.index(st.session_state[LANGUAGE]),
        format_func=LANGUAGES.get,
        key=LANGUAGE_MENU,
        on_change=chosen,
    )


def speak_the_session_language() -> None:
    """A fragment's rerun runs without `app.py`: it says its session's language itself."""
    use_language(st.session_state.get(LANGUAGE, "en"))


def start_page() -> None:
    """Every page calls this first: its runs go through `app.py`, in the session's language
    (a page's run may come without `app.py`'s, as a deep link's first run does)."""
    _through_app_navigation()
    speak_the_session_language()


def _through_app_navigation() -> None:
    """Run every page through `app.py`, a deep link on a fresh server too.

    Streamlit treats an app with a `pages/` folder as an old-style multipage app until its
    main script has called `st.navigation` once in the server process. So the very first
    request straight to a page's URL (say `/draw`) runs that page file alone, under an
    automatic listing of the folder ("common" included). Such a run switches the old mode
    off and reruns: the rerun goes through `app.py`, whose navigation picks the same page by
    its URL (page hashes are the URL's). The check is made per session, on its first run,
    by the listing that run is under: when a class opens the link at once on a fresh server,
    all their first runs start in the old mode, and a check made once per process (at
    import) reran only the first and left the others an empty page (found by the
    protocol-level class load). Later runs are never rerun here, so no click is lost.
    """
    PagesManager.uses_pages_directory = False
    if st.session_state.get(THROUGH_APP):
        return
    context = get_script_run_ctx()
    listing = context.pages_manager.get_pages().values() if context is not None else []
    if any(Path(page["script_path"]).name == Path(__file__).name for page in listing):
        st.rerun()
    st.session_state[THROUGH_APP] = True


def _keep_the_keras_session() -> None:
    """Stop Streamlit from clearing the Keras session after every script run.

    Streamlit does it for apps that build a new model on each rerun. Here models are built
    once (the shared Predictor, the job's worker thread), and the clearing cost about 0.25 s
    of server CPU per rerun (a full garbage collection): with thirty students drawing, most
    of the server's time. It also reset Keras's global state while the worker thread was
    building a model. What else it closes (matplotlib figures) is still closed.
    """

    def clean_matplotlib_only() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    script_runner._clean_problem_modules = clean_matplotlib_only


_keep_the_keras_session()


def server_job() -> "ServerJob":
    """The server's one heavy job, outside Streamlit's caches (tl_core.serving.jobs)."""
    from tl_core.serving.jobs import server_job as the_server_job

    return the_server_job(teacher_key)


def teacher_key() -> TeacherKey:
    """The server's passcode, decided once per process: set by hand, made up for a server
    that students can reach (printed on its own screen), or none."""
    return server_key(_secrets(), students_can_reach(st.get_option("server.address")))


def on_this_computer() -> bool:
    """Whether this session's browser runs on the server's own computer: its websocket's
    TCP peer (Streamlit's `st.context.ip_address` shows loopback as None, like no address),
    with the request's headers (a proxy's forwarding header makes it a student). A session
    without a real server (a script; AppTest, whose runtime is a mock of one) runs in this
    process: on this computer."""
    from streamlit import runtime

    if not runtime.exists() or type(runtime.get_instance()) is not runtime.Runtime:
        return True
    context = get_script_run_ctx()
    client = runtime.get_instance().get_client(context.session_id) if context else None
    client_context = getattr(client, "client_context", None)
    peer = getattr(client_context, "remote_ip", None)
    return is_this_computer(peer, dict(st.context.headers))


def who_teaches() -> None:
    """Home's line on who the teacher is (without starting the server's job: Home loads no
    TensorFlow). A made-up passcode is shown only in this computer's own browser."""
    key = teacher_key()
    if key.too_short:
        st.error(str(not_allowed(key)))
    elif key.passcode is None:
        st.caption(_(TEACHER_HERE))
    elif key.source == "made up" and on_this_computer():
        st.info(
            _(
                "No teacher passcode was set and students can reach this server, so it made "
                "one up for this lesson: **{passcode}**. Only this computer shows it; type it "
                "on another device to teach from there.",
                passcode=key.passcode,
            ),
            icon=":material/key:",
        )


def session_id() -> str:
    """This browser tab's session, as the server knows it (never shown, never stored)."""
    context = get_script_run_ctx()
    return context.session_id if context else ""


def credentials() -> tuple[str | None, bool]:
    """What tl_core checks before a teacher's action: the passcode this session entered (if
    any) and whether it is the server's own computer."""
    return st.session_state.get(PASSCODE), on_this_computer()


def may_control_training() -> bool:
    """Whether this session is the teacher's: the passcode, or the server's own computer
    where the passcode was not set by hand (tl_core.serving.access)."""
    return server_job().may_control(*credentials())


def passcode_box() -> None:
    """The passcode field where a passcode is set, else the sentence saying who may. What is
    typed is checked once, through the server's gate (wrong ones slow further tries), and
    only a right passcode is kept, in a plain session key: Streamlit forgets a widget's
    value on pages that don't draw it, and the passcode must last."""
    key = teacher_key()
    if key.passcode is None or key.too_short:
        st.caption(str(not_allowed(key)))
        return

    def check() -> None:
        entered = st.session_state[PASSCODE_FIELD]
        result = PASSCODE_GATE.attempt(session_id(), entered, key.passcode)
        if result is True:
            st.session_state[PASSCODE] = entered
            st.session_state.pop(PASSCODE_REFUSED, None)
        elif result is False:
            st.session_state[PASSCODE_REFUSED] = _("That is not the teacher passcode.")
        else:
            st.session_state[PASSCODE_REFUSED] = str(wait_sentence(result))

    st.text_input(_("Teacher passcode"), type="password", key=PASSCODE_FIELD, on_change=check)
    if st.session_state.get(PASSCODE_REFUSED):
        st.error(st.session_state[PASSCODE_REFUSED])


def leave_teacher_mode() -> None:
    """The sidebar's way out for a session that entered the passcode (a shared computer):
    the passcode is forgotten, and the session is a student's again."""

    def leave() -> None:
        st.session_state.pop(PASSCODE, None)
        st.session_state.pop(PASSCODE_FIELD, None)

    if st.session_state.get(PASSCODE):
        st.sidebar.button(_("Leave teacher mode"), icon=":material/logout:", on_click=leave)


def _secrets() -> dict:
    """`.streamlit/secrets.toml` as a dict; empty when there is none (the usual case)."""
    try:
        return dict(st.secrets)
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return {}


@st.cache_data
def parameter_counts(
    input_size: int, head_units: int, bottleneck: str, pooling: str
) -> tuple[int, int]:
    """(trainable, frozen) parameters of the transfer model, counted on a built model."""
    from tl_core.pipeline.model import model_parameter_counts

    return model_parameter_counts(input_size, head_units, bottleneck, pooling)


def predictor(run_path: str, model_sha256: str) -> "Predictor":
    """The model of a run, loaded once for everyone, outside Streamlit's caches
    (tl_core.serving.shelf); the spinner shows only while it loads."""
    from tl_core.pipeline.predict import Predictor
    from tl_core.serving.shelf import MODELS

    return shelved(
        MODELS,
        (run_path, model_sha256),
        lambda: Predictor(load_model(find(run_path), resolve_runs_dir(None))),
        _("Loading the model…"),
    )


def shelved(shelf: "Shelf", key: Hashable, build: Callable[[], Any], spinner: str) -> Any:
    """`shelf.get(key, build)`, with a spinner only while it builds (a spinner around
    every call would start a timer on every stroke)."""
    if shelf.has(key):
        return shelf.get(key, build)
    with st.spinner(spinner):
        return shelf.get(key, build)


@st.cache_data(max_entries=128, show_spinner=False)
def heat_map(run_path: str, model_sha256: str, digit: "np.ndarray") -> "np.ndarray":
    """Why the model reads a saved 28x28 drawing as it does, as an image (the Class page's
    misread drawings: each is explained once per model, not on every refresh)."""
    from tl_core.teaching.explain import HEAT_SCALE, explain, heat_image

    prediction = predictor(run_path, model_sha256).predict_digit(digit, explained=True)
    return heat_image(explain(prediction), digit, HEAT_SCALE)


def evaluation(run_path: str, model_sha256: str) -> "Evaluation":
    """A run's scores, computed once per server for every student who opens Results."""
    from tl_core.pipeline.evaluate import evaluate_run
    from tl_core.serving.shelf import EVALUATIONS

    return EVALUATIONS.get(
        (run_path, model_sha256),
        lambda: evaluate_run(find(run_path), predictor(run_path, model_sha256)),
    )


# The spinner is Text: Streamlit shows it with str(), so in the reader's language, and only
# on a cache miss (a spinner around the call would start a timer on every run).
@st.cache_data(max_entries=4, show_spinner=Text("Loading MNIST…"))
def mnist(source: str = "auto") -> MnistData:
    return load_mnist(source)


def runs() -> list[Run]:
    return list_runs(resolve_runs_dir(None))


def find(run_path: str) -> Run:
    return read_run(Path(run_path))


def model_in_use() -> Run | None:
    """The run this student picked, if it is still complete, else the newest complete run
    (read without the other runs: Draw asks on every stroke)."""
    runs_dir = resolve_runs_dir(None)
    chosen = st.session_state.get(MODEL_CHOICE)
    if chosen:
        with contextlib.suppress(RunError):
            return find_run(runs_dir, chosen)
    return latest_complete_run(runs_dir)


def predictor_in_use() -> tuple[Run, "Predictor"] | tuple[None, None]:
    """The model in use, loaded; a damaged model file becomes a message, not a crash."""
    run = model_in_use()
    if run is None:
        return None, None
    try:
        return run, predictor(*run.model_key)
    except DigitLabError as error:
        st.error(str(error))
        return None, None


def weights_badge(run: Run) -> str:
    """The weights a run's base started from, in the reader's language; a warning sign where
    they were random (not transfer learning)."""
    from tl_core.pipeline.weights import label_text

    label = run.status.get("weights", "")
    shown = str(label_text(label))
    return f":material/warning: {shown}" if "not transfer learning" in label else shown


def curves(history: list[dict[str, float]] | tuple[dict[str, float], ...]) -> None:
    """Accuracy, digits read wrong per 100 and loss, train and validation, one point per
    epoch, each axis fitted to its values (with a pretrained base a 0-to-1 accuracy axis
    shows two flat lines at the top); each chart carries its text alternative
    (st.line_chart's hover layer is an unlabelled graphic to a screen reader, which axe-core
    counts as a serious violation)."""
    import pandas as pd  # here: Home, the first page, needs no pandas (half a second)

    from tl_core.teaching.lesson import CURVE_NAMES, curves_sentence, with_wrong_per_100

    history = with_wrong_per_100(list(history))
    if not history:
        return
    frame = pd.DataFrame(history)
    for column, title, names, from_zero in zip(
        st.columns(3),
        (_("Accuracy"), _("Wrong per 100 digits"), _("Loss")),
        (("accuracy", "val_accuracy"), ("wrong", "val_wrong"), ("loss", "val_loss")),
        (False, True, False),
        strict=True,
    ):
        long = frame.melt("epoch", list(names), var_name="curve", value_name="value")
        long["curve"] = long["curve"].map(lambda name: _(CURVE_NAMES[name]))
        column.markdown(f"**{title}**")
        spec = curve_spec(title, curves_sentence(history, names), from_zero)
        column.vega_lite_chart(long, spec)


def translated(spec: dict[str, Any], field_titles: dict[str, str]) -> dict[str, Any]:
    """A copy of a Vega-Lite spec with its axis and tooltip titles in the reader's language:
    a title the spec gives (an `N_` message) is translated, and an axis or tooltip without
    one is named by `field_titles` (field -> `N_` message)."""
    encoding = {}
    for channel, field in spec["encoding"].items():
        if channel == "tooltip":
            field = [{**tip, "title": _(field_titles[tip["field"]])} for tip in field]
        elif "title" in field:
            field = {**field, "title": _(field["title"])}
        elif channel in ("x", "y"):
            field = {**field, "title": _(field_titles[field["field"]])}
        encoding[channel] = field
    return {**spec, "encoding": encoding}


def curve_spec(title: str, description: str, from_zero: bool) -> dict[str, Any]:
    """A line per curve over the epochs, in colours colour-blind students can tell apart;
    the y axis fits the values, or starts at zero (`from_zero`: counts of wrong digits)."""
    return {
        "description": description,
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {
                "field": "epoch",
                "type": "quantitative",
                "title": _("epoch"),
                "axis": {"tickMinStep": 1},
            },
            "y": {
                "field": "value",
                "type": "quantitative",
                "title": title.lower(),
                "scale": {"zero": from_zero},
            },
            "color": {
                "field": "curve",
                "type": "nominal",
                "title": None,
                "scale": {"range": list(OKABE_ITO[:2])},
                "legend": {"orient": "bottom", "direction": "vertical", "labelLimit": 0},
            },
        },
    }


def start_button(label: str, key: str) -> bool:
    """The button, only for a session that may start heavy jobs (the page says who may)."""
    return may_control_training() and st.button(label, key=key, icon=":material/play_arrow:")


def start(kind: str, title: str, work: Any) -> None:
    """Start `work` as the server's heavy job, or say in one sentence why it did not start."""
    job = server_job()
    try:
        started = job.start_task(kind, title, work, *credentials())
    except NotAllowed as error:
        st.error(str(error))
        return
    if not started:
        st.warning(str(job.busy_message()))


@st.fragment(run_every=1.0)
def progress(kind: str) -> None:
    """The job's progress while it runs; when a new result of this kind is in, a rerun of
    the page shows it (in every tab, not only the one that pressed the button). The page
    calls `latest` before this, so a full run never reruns itself."""
    from tl_core.serving.jobs import FAILED

    speak_the_session_language()
    job = server_job()
    status = job.snapshot()
    if job.latest(kind) is not st.session_state.get(SHOWN.format(kind)):
        st.rerun()
    if status.is_active and status.kind == kind:
        step, total = status.phase_progress.get(kind, (0, 1))
        st.progress(min(step / max(total, 1), 1.0), text=f"{status.title}: {status.message}")
        stop = may_control_training() and st.button(
            _("Stop"), key=f"stop_{kind}", icon=":material/stop:"
        )
        if stop:
            job.stop(*credentials())
    elif status.is_active:
        st.caption(
            _("{job} is running on the server; this can start when it is done.", job=status.title)
        )
    elif status.kind == kind and status.state == FAILED:
        job_failed(status)


def job_failed(status: "JobStatus") -> None:
    """Why the job failed, for the teacher; a student reads that it failed, not the error
    (which may name the server's files or its internals)."""
    if may_control_training():
        st.error(str(status.error))
    else:
        st.error(_("{job} failed: the teacher's screen says why.", job=status.title))


def latest(kind: str) -> Any:
    """The last result of this kind (None before the first), remembered as drawn here."""
    found = server_job().latest(kind)
    st.session_state[SHOWN.format(kind)] = found
    return found[1] if found else None
