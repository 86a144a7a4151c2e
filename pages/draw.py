"""Draw: a digit on the canvas (or a photo) and the network's guess, updated as you draw."""

import hashlib
import re
from dataclasses import dataclass
from html import escape

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import CanvasResult, st_canvas

from pages.common import (
    DRAWN_DIGIT,
    NO_MODEL_YET,
    model_in_use,
    predictor_in_use,
    session_id,
    speak_the_session_language,
    start_page,
    translated,
    weights_badge,
)
from tl_core.errors import ClassSetFull, ImageError, NoDigitFound
from tl_core.i18n import N_, Text, _, number, percent
from tl_core.pipeline.handwriting import not_trained_on, remove_drawing, save_drawing
from tl_core.pipeline.images import (
    MAX_UPLOAD_BYTES,
    NOT_A_DRAWING,
    png_bytes_data_url,
    png_data_url,
    read_drawing,
    read_image,
    thumbnail,
)
from tl_core.pipeline.predict import LOW_CONFIDENCE, Prediction
from tl_core.pipeline.preprocess import previews
from tl_core.serving.quota import SAVES
from tl_core.teaching.explain import HEAT_SCALE, explain, heat_image

start_page()  # first: through app.py (a deep link too), in the session's language

CANVAS_SIDE, PEN_WIDTH = 280, 18
STEP_SIDE = 110  # the preparation steps' pictures, in screen pixels
# A plain Vega-Lite spec: a bar per digit. (st.bar_chart builds and validates an Altair
# chart on every rerun, which cost about 45 ms of server CPU per drawing.)
PROBABILITY_BARS = {
    "mark": "bar",
    "encoding": {
        "x": {"field": "digit", "type": "ordinal", "axis": {"labelAngle": 0}},
        "y": {"field": "probability", "type": "quantitative", "scale": {"domain": [0, 1]}},
    },
}


BAR_TITLES = {"digit": N_("digit"), "probability": N_("probability")}


def probability_bars(prediction: Prediction) -> dict:
    """The bars' spec with its axis titles in the reader's language, the guess in words as
    its text alternative, and the ten probabilities in the spec itself: data handed to
    Streamlit beside a spec goes through pandas and Arrow on every stroke."""
    values = ",".join(f"{probability:.4f}" for probability in prediction.probabilities)
    return {
        **translated(PROBABILITY_BARS, BAR_TITLES),
        "description": str(prediction.sentence()),
        "data": {"sequence": {"start": 0, "stop": 10, "as": "digit"}},
        "transform": [{"calculate": f"[{values}][datum.digit]", "as": "probability"}],
    }


# The style of a row of pictures (see show_pictures) and of the guess in words, which
# screen readers read and nobody sees (the usual "visually hidden" style). st.html keeps a
# class and a <style> block, not a style attribute.
PICTURES, OFF_SCREEN = "digit-lab-pictures", "digit-lab-screen-reader-only"
SMOOTH = "digit-lab-smooth"
PAGE_STYLE = (
    f".{PICTURES}{{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}}"
    # a caption as wide as its picture in a row, as wide as the column under a lone one
    f".{PICTURES} figure{{margin:0;width:min-content}}"
    f".{PICTURES} figure:only-child{{width:auto}}"
    # framed: the heat map's white paper shows where it ends
    f".{PICTURES} img{{display:block;height:auto;image-rendering:pixelated;"
    f"border:1px solid rgba(0,0,0,0.2)}}"
    f".{PICTURES} img.{SMOOTH}{{image-rendering:auto}}"
    f".{PICTURES} figcaption{{font-size:0.875rem;color:rgba(0,0,0,0.6);margin-top:0.25rem}}"
    f".{OFF_SCREEN}{{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}}"
)
VERSION = "canvas_version"  # bumping it gives a fresh, empty canvas (the Clear button)
ANSWERED = "answered_drawing"  # session key: (checksum of the drawing answered, what was saved)
MINE = "my_drawings"  # session key: the names of the drawings this session added


def save_answer(prediction: Prediction, meant: int | None, checksum: str) -> None:
    """A tap's callback: store the prepared digit with the digit meant and the guess, if
    this session and the server may save one now (tl_core.serving.quota)."""
    if meant is None:  # the "I meant…" choice was cleared
        return
    refused = SAVES.take(session_id())
    if refused:
        st.session_state[ANSWERED] = (checksum, str(refused))
        return
    try:
        path = save_drawing(
            prediction.digit_image, meant, guess=prediction.digit, confidence=prediction.confidence
        )
    except ClassSetFull as error:
        st.session_state[ANSWERED] = (checksum, str(error))
    except OSError as error:  # a full disk, a folder that can't be written
        st.session_state[ANSWERED] = (
            checksum,
            _("It could not be saved ({reason}).", reason=error.strerror or error),
        )
    else:
        st.session_state.setdefault(MINE, []).append(path.name)
        st.session_state[ANSWERED] = (checksum, meant)


def take_back() -> None:
    """A tap's callback: remove every drawing this session added to the class set."""
    for name in st.session_state.pop(MINE, []):
        remove_drawing(name)


def answer_buttons(prediction: Prediction) -> None:
    """One tap after the guess: "right", or "I meant…" and the digit. Nothing is saved
    without that tap; then this drawing shows what was saved instead of the buttons."""
    checksum = hashlib.sha256(prediction.digit_image.tobytes()).hexdigest()[:16]
    done, answer = st.session_state.get(ANSWERED, (None, None))
    if done == checksum:
        if isinstance(answer, str):
            st.error(answer)
        else:
            st.success(
                _("On the class wall as a {digit}: thank you.", digit=answer),
                icon=":material/check:",
            )
            st.button(
                _(
                    "Take back my drawings ({count})",
                    count=number(len(st.session_state.get(MINE, []))),
                ),
                icon=":material/undo:",
                type="tertiary",
                on_click=take_back,
            )
        return
    st.markdown(
        _("**Was it right?** One tap adds it to the class wall, with no name."),
        help=_("Only the 28x28 digit, the guess and your answer are kept."),
    )
    st.button(
        _("Right, it is a {digit}", digit=prediction.digit),
        icon=":material/check:",
        key="answer_right",
        on_click=save_answer,
        args=(prediction, prediction.digit, checksum),
    )
    st.pills(
        _("I meant…"),
        [digit for digit in range(10) if digit != prediction.digit],
        key=f"answer_meant_{checksum}",
        on_change=lambda: save_answer(
            prediction, st.session_state[f"answer_meant_{checksum}"], checksum
        ),
    )


@dataclass(frozen=True)
class Picture:
    """One picture of a row: its `data:` URL, its width in screen pixels, its caption and
    text alternative. A `pixelated` picture smaller than its width shows its pixels, as the
    network gets them; otherwise it is smoothed (the canvas's drawing, shown smaller)."""

    src: str
    width: int
    caption: str
    alt: str
    pixelated: bool = True


def show_pictures(
    pictures: list[Picture], heading: str | None = None, announced: str | None = None
) -> None:
    """A row of pictures under a `heading` (a message with **bold**, as for st.markdown),
    as one element. With `announced`, a screen reader reads that sentence out whenever it
    changes.

    One `st.html`, the pictures inline: an `st.image` per picture, in a column each, and
    the heading as its own markdown, cost a message per element and an encoding, a check
    and an HTTP request per picture, on every stroke of every student."""
    title = f"<p>{_bold_as_html(heading)}</p>" if heading else ""
    figures = "".join(_figure(picture) for picture in pictures)
    status = (
        f'<p class="{OFF_SCREEN}" role="status" aria-live="polite">{escape(announced)}</p>'
        if announced
        else ""
    )
    st.html(f'<style>{PAGE_STYLE}</style>{title}<div class="{PICTURES}">{figures}</div>{status}')


def _figure(picture: Picture) -> str:
    """A picture with its caption; st.html keeps a class, not a style attribute."""
    smooth = "" if picture.pixelated else f' class="{SMOOTH}"'
    return (
        f'<figure><img src="{picture.src}" width="{picture.width}" alt="{escape(picture.alt)}"'
        f"{smooth}><figcaption>{escape(picture.caption)}</figcaption></figure>"
    )


def _bold_as_html(message: str) -> str:
    """A message's `**bold**` as HTML, the rest escaped."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escape(message))


def why(prediction: Prediction) -> None:
    """Which strokes pushed the network toward its guess, which toward its second choice;
    with the guess in words, read out by a screen reader whenever it changes."""
    explanation = explain(prediction)
    sentence = str(explanation.sentence())
    heat = heat_image(explanation, prediction.digit_image)
    show_pictures(
        [Picture(png_data_url(heat), 28 * HEAT_SCALE, sentence, sentence)],
        _("**Why {digit}?**", digit=prediction.digit),
        str(prediction.sentence()),
    )


def guess(prediction: Prediction) -> None:
    """The answer to a drawing, in the order a phone shows it under the canvas: the guess
    and the answer buttons first, then the bars, the explanation and the steps."""
    st.metric(
        _("The network says"),
        str(prediction.digit),
        _("{confidence} sure", confidence=percent(prediction.confidence)),
        delta_color="off",
    )
    answer_buttons(prediction)
    if not prediction.is_confident:
        st.warning(
            _(
                "Not sure (below {threshold}): try drawing it larger and centred, like the "
                "digits on the Data page.",
                threshold=percent(LOW_CONFIDENCE),
            )
        )
    st.vega_lite_chart(None, probability_bars(prediction), height=220)
    each = " · ".join(f"{digit}: {percent(p)}" for digit, p in enumerate(prediction.probabilities))
    st.caption(_("Probabilities: {each}", each=each))
    st.session_state[DRAWN_DIGIT] = prediction.digit_image  # for the Inside page
    why(prediction)


def steps_shown(yours: Picture, prediction: Prediction, size: int) -> None:
    """The preparation every training digit took, applied to this drawing."""
    straight, model_input = previews(prediction.digit_image, size)
    shown = [
        (prediction.digit_image, _("cut out, 20x20 box, centred (28x28)")),
        (straight, _("slant straightened")),
        (model_input, _("VGG16 input, {size}x{size}", size=size)),
    ]
    show_pictures(
        [yours]
        + [
            Picture(
                png_data_url(picture),
                STEP_SIDE,
                caption,
                _("Your drawing, {step}.", step=caption),
            )
            for picture, caption in shown
        ],
        _("**What the network sees**: every training digit took the same steps"),
    )


def your_picture(image: np.ndarray, canvas_png: bytes | None) -> Picture:
    """The drawing as the student made it, first of the steps: the canvas's own PNG as it
    came (nothing to decode, shrink or encode on a stroke), or the upload shrunk."""
    if canvas_png is not None:
        yours = _("your drawing")
        return Picture(png_bytes_data_url(canvas_png), STEP_SIDE, yours, f"{yours}.", False)
    yours = _("your upload")
    return Picture(png_data_url(thumbnail(image, STEP_SIDE)), STEP_SIDE, yours, f"{yours}.")


def canvas_bytes(drawing: CanvasResult) -> bytes | None:
    """The canvas's PNG as it sent it, None before the first stroke. The value is whatever
    the browser sent: one that is not a base64 data URL is refused in one sentence."""
    try:
        return drawing.image_bytes
    except (ValueError, TypeError, AttributeError):  # not "data:...;base64,...", not text
        raise ImageError(Text(NOT_A_DRAWING)) from None


@st.fragment
def draw_and_answer() -> None:
    """The model in use, the canvas and the answer. A fragment: a stroke reruns this, not
    the app's navigation and the page around it. The model is looked up on every stroke,
    so a newly trained one answers the next drawing."""
    speak_the_session_language()
    run, predictor = predictor_in_use()
    if run is None:
        st.info(_(NO_MODEL_YET))
    else:
        st.caption(_("Model in use: {run} · {weights}", run=run.name, weights=weights_badge(run)))
    st.session_state.setdefault(VERSION, 0)
    # Room for the canvas toolbar, which floats above the canvas: above both columns, so
    # the guess beside the canvas starts level with it (a tablet shows both at once).
    st.space("medium")
    canvas_col, result_col = st.columns([1, 1])
    with canvas_col:
        drawing = st_canvas(
            stroke_width=PEN_WIDTH,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS_SIDE,
            width=CANVAS_SIDE,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"canvas-{st.session_state[VERSION]}",
        )
        with st.container(horizontal=True):  # one row, on a phone too
            if st.button(_("Clear"), icon=":material/ink_eraser:"):
                st.session_state[VERSION] += 1
                st.rerun(scope="fragment")
            # An expander: it opens in place, so its field is the next stop of the keyboard's
            # Tab (tests/test_browser.py -k keyboard uploads and answers without a mouse).
            with st.expander(_("Upload a photo"), icon=":material/upload:"):
                upload = st.file_uploader(
                    _(
                        "A photo or scan of one digit (PNG or JPEG, up to {megabytes} MB). "
                        "This is also the way without a pointer: drawing needs a mouse, a pen "
                        "or a finger.",
                        megabytes=number(MAX_UPLOAD_BYTES // 2**20),
                    ),
                    type=["png", "jpg", "jpeg"],
                )

    image, canvas_png = None, None
    try:
        if upload is not None:
            image = read_image(upload.getvalue())
        else:
            canvas_png = canvas_bytes(drawing)
            image = None if canvas_png is None else read_drawing(canvas_png, CANVAS_SIDE)
    except ImageError as error:
        result_col.error(str(error))
        canvas_png = None

    with result_col:
        if image is None or predictor is None:
            st.info(_("Draw a digit on the black square."))
            return
        try:
            prediction = predictor.predict_image(
                image, drawing=canvas_png is not None, explained=True
            )
        except NoDigitFound as error:
            st.info(str(error))
            return
        guess(prediction)
    steps_shown(your_picture(image, canvas_png), prediction, predictor.input_size)


def what_the_model_does() -> None:
    """One line against the commonest misconceptions: the model learns from every use, and
    its confidence is the truth. Drawn once per visit, not on every stroke."""
    run = model_in_use()
    waiting = len(not_trained_on(run.status.get("handwriting_trained", []))) if run else 0
    st.caption(
        _(
            "The network only guesses: its confidence is how sure it is, not whether it is "
            "right. It learns nothing from your drawing; it learns from the class's drawings "
            "only when the teacher presses “Teach it our handwriting” ({count} drawings "
            "waiting).",
            count=number(waiting),
        )
    )


st.title(":material/draw: " + _("Draw a digit"))
what_the_model_does()
draw_and_answer()
