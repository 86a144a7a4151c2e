"""Train: the run's settings as a form, Start and Stop, live progress and curves.

Training runs in the server's one background job (pages.common.server_job), so every tab
sees the same progress, and leaving this page does not stop it.
"""

import streamlit as st

from pages.common import (
    credentials,
    curves,
    job_failed,
    may_control_training,
    mnist,
    parameter_counts,
    passcode_box,
    server_job,
    shelved,
    speak_the_session_language,
    start_page,
)
from tl_core.config import BOTTLENECKS, POOLINGS, QUICK_RUN, TrainConfig
from tl_core.errors import ConfigError, NotAllowed
from tl_core.i18n import N_, _, number
from tl_core.pipeline.data import take_budget
from tl_core.pipeline.handwriting import load_handwriting
from tl_core.pipeline.people import TRAIN_WRITERS, add_people
from tl_core.pipeline.train import Speed, estimate_seconds, measure_speed
from tl_core.pipeline.weights import RANDOM_LABEL, pretrained_label_here
from tl_core.serving.hosting import hosting_limits
from tl_core.serving.jobs import DONE, FAILED, STOPPED, TRAINING, JobStatus
from tl_core.serving.shelf import SPEEDS

start_page()  # first: through app.py (a deep link too), in the session's language

WEIGHTS = {
    "pretrained": N_("Pretrained (transfer learning)"),
    "random": N_("Random (no pretraining)"),
}
POOLING_NAMES = {"average": N_("Average per channel"), "flatten": N_("Flatten every position")}
PHASE_PROGRESS = {  # each phase's progress bar, as a whole sentence
    "features": N_("Building features (running the frozen base): {step} of {total} images"),
    "train": N_("Training the head: {step} of {total} epochs"),
    "fine-tune": N_("Fine-tuning the top block: {step} of {total} epochs"),
}


def speed(input_size: int, precision: str, bottleneck: str, pooling: str, batch_size: int) -> Speed:
    """This machine's pace for the setting, measured once per server (a few seconds)."""
    setting = (input_size, precision, bottleneck, pooling, batch_size)
    config = TrainConfig(
        input_size=input_size,
        precision=precision,
        bottleneck=bottleneck,
        pooling=pooling,
        batch_size=batch_size,
    )
    return shelved(
        SPEEDS, setting, lambda: measure_speed(config), _("Measuring how fast this machine trains…")
    )


def settings_form() -> TrainConfig | None:
    """The form; returns a config when Start is pressed and the values are valid."""
    label = pretrained_label_here()
    pretrained = _(label) if label else _("none installed")
    with st.form("settings"):
        left, middle, right = st.columns(3)
        weights = left.radio(
            _("Base weights"),
            list(WEIGHTS),
            format_func=lambda value: _(WEIGHTS[value]),
            key="weights",
            help=_(
                "Pretrained here: {pretrained}. Random: {random}, the same network never "
                "trained on photos, a baseline to compare with.",
                pretrained=pretrained,
                random=_(RANDOM_LABEL),
            ),
        )
        limit = hosting_limits().max_per_class  # a hosted classroom: never all of MNIST
        per_class = left.number_input(
            _("Training digits per class (at most {limit} here)", limit=number(limit))
            if limit
            else _("Training digits per class (0 = all)"),
            1 if limit else 0,
            limit or 6000,
            QUICK_RUN.per_class,
            key="per_class",
        )
        input_size = left.select_slider(
            _("Input size (pixels)"), [32, 48, 64, 96], QUICK_RUN.input_size, key="input_size"
        )
        epochs = middle.number_input(_("Epochs"), 1, 100, QUICK_RUN.epochs, key="epochs")
        batch_size = middle.select_slider(
            _("Batch size"), [16, 32, 64, 128, 256], QUICK_RUN.batch_size, key="batch_size"
        )
        learning_rate = middle.select_slider(
            _("Learning rate"),
            [1e-4, 3e-4, 1e-3, 3e-3],
            QUICK_RUN.learning_rate,
            key="learning_rate",
        )
        fine_tune = middle.checkbox(_("Fine-tune the top block afterwards (slow)"), key="fine_tune")
        bottleneck = middle.selectbox(
            _("Cut the base after"),
            BOTTLENECKS,
            BOTTLENECKS.index(QUICK_RUN.bottleneck),
            key="bottleneck",
        )
        pooling = middle.selectbox(
            _("The head reads the features by"),
            POOLINGS,
            POOLINGS.index(QUICK_RUN.pooling),
            format_func=lambda value: _(POOLING_NAMES[value]),
            key="pooling",
        )
        include_people = left.checkbox(
            _(
                "MNIST plus digits drawn by {count} people (other people's digits stay out, "
                "to test)",
                count=number(len(TRAIN_WRITERS)),
            ),
            key="include_people",
        )
        saved = len(load_handwriting())
        include_handwriting = left.checkbox(
            _(
                "Add the class handwriting set ({count} drawings; one in four is kept out, "
                "to test)",
                count=number(saved),
            ),
            key="include_handwriting",
            disabled=saved == 0,
        )
        rotation = right.slider(
            _("Rotation (degrees)"), 0.0, 45.0, QUICK_RUN.rotation, key="rotation"
        )
        shift = right.slider(_("Shift (fraction)"), 0.0, 0.3, QUICK_RUN.shift, key="shift")
        zoom = right.slider(_("Zoom (fraction)"), 0.0, 0.5, QUICK_RUN.zoom, key="zoom")
        shear = right.slider(
            _("Slant (shift per pixel down)"), 0.0, 1.0, QUICK_RUN.shear, key="shear"
        )
        stroke = right.slider(
            _("Pen width change (pixels)"), 0.0, 2.0, QUICK_RUN.stroke, key="stroke"
        )
        views = right.number_input(
            _("Views per digit (itself, then augmented)"),
            1,
            8,
            QUICK_RUN.views,
            key="views",
            help=_("1: each digit only as it is, so the augmentation above is not used."),
        )
        start = st.form_submit_button(
            _("Start training"), type="primary", icon=":material/play_arrow:"
        )
    try:
        config = TrainConfig(
            weights=weights,
            per_class=int(per_class) or None,
            test_per_class=QUICK_RUN.test_per_class,
            input_size=int(input_size),
            epochs=int(epochs),
            batch_size=int(batch_size),
            learning_rate=float(learning_rate),
            rotation=float(rotation),
            shift=float(shift),
            zoom=float(zoom),
            shear=float(shear),
            stroke=float(stroke),
            views=int(views),
            fine_tune=bool(fine_tune),
            bottleneck=bottleneck,
            pooling=pooling,
            include_people=bool(include_people),
            include_handwriting=bool(include_handwriting),
        )
    except ConfigError as error:
        st.error(str(error))
        return None
    show_plan(config)
    return config if start else None


def show_plan(config: TrainConfig) -> None:
    """Parameter counts and a time estimate, before anything runs."""
    trainable, frozen = parameter_counts(
        config.input_size, config.head_units, config.bottleneck, config.pooling
    )
    data = take_budget(mnist(), config.per_class, config.test_per_class, config.seed)
    if config.include_people:
        data = add_people(data)
    pace = speed(
        config.input_size, config.precision, config.bottleneck, config.pooling, config.batch_size
    )
    seconds = estimate_seconds(config, len(data.y_train), len(data.y_test), pace)
    cols = st.columns(4)
    cols[0].metric(_("Trainable (head)"), number(trainable))
    cols[1].metric(_("Frozen (VGG16 base)"), number(frozen))
    cols[2].metric(_("Training digits"), number(len(data.y_train)))
    cols[3].metric(
        _("Estimated time"),
        _("~{seconds} s", seconds=number(seconds)),
        help=_(
            "from this machine's measured speed at these settings, for a first run; a "
            "repeat with the same data and augmentation reuses cached features and is faster"
        ),
    )
    if not config.is_transfer:
        st.info(
            _(
                "Random weights: this run is **not transfer learning**, it shows what the "
                "same network does without pretraining."
            )
        )


@st.fragment(run_every=1.0)
def live_progress() -> None:
    """Polls the shared job every second: progress bars per phase and the live curves."""
    speak_the_session_language()  # a fragment's own rerun runs without app.py
    status: JobStatus = server_job().snapshot()
    if status.kind not in ("", TRAINING):  # a Compare job holds the server
        if status.is_active:
            st.info(
                _(
                    "{job} is running on the server; training can start after it.",
                    job=status.title,
                )
            )
        status = JobStatus()
    if status.state == "idle":
        st.caption(_("No training has run since the server started."))
        return
    if (
        status.is_active
        and may_control_training()
        and st.button(_("Stop"), key="stop", icon=":material/stop:")
    ):
        server_job().stop(*credentials())
    for phase, sentence in PHASE_PROGRESS.items():
        if phase in status.phase_progress:
            step, total = status.phase_progress[phase]
            st.progress(
                step / total if total else 1.0,
                text=_(sentence, step=number(step), total=number(total)),
            )
    if status.is_active:
        st.caption(_("{message}…", message=status.message))
    if status.history:
        curves(status.history)
    if status.first_point_s is not None:
        st.caption(
            _(
                "First curve point {seconds} s after Start.",
                seconds=number(status.first_point_s, 1),
            )
        )
    if status.state == DONE:
        st.success(
            _(
                "Done in {seconds} s. Run {run} is saved and is now the model in use: try it "
                "on the Draw page.",
                seconds=number(status.seconds),
                run=status.run_name,
            )
        )
    elif status.state == STOPPED:
        st.warning(
            _(
                "Training was stopped. The run was not saved as complete; the previous "
                "model stays in use."
            )
        )
    elif status.state == FAILED:
        job_failed(status)


st.title(":material/model_training: " + _("Train the new head"))
st.markdown(
    _(
        "VGG16's convolutional base is **frozen**: its weights do not change. Each digit goes "
        "through it once, and its output (the *bottleneck features*) is kept; only the small "
        "**head** on top is trained, which is why this takes seconds, not hours."
    )
)
if may_control_training():
    config = settings_form()
    if config is not None:
        try:
            started = server_job().start(config, *credentials())
        except (NotAllowed, ConfigError) as error:
            st.error(str(error))
        else:
            if started:
                st.toast(_("Training started"))
            else:
                st.warning(str(server_job().busy_message()))
else:
    st.info(
        _(
            "Only the teacher starts and stops training here (it uses the whole server). You "
            "can watch the progress and the curves below, and try the model on the Draw page."
        )
    )
    passcode_box()
live_progress()
