"""The app in English, Bengali, Hindi, Polish and Spanish (tl_core/i18n.py, tl_core/locales/)."""

import ast
import re
import threading

import pytest
from helpers import canvas_value
from streamlit.testing.v1 import AppTest

from tl_core.i18n import (
    LANGUAGES,
    SOURCE_LANGUAGE,
    Text,
    _,
    language_from_locale,
    number,
    percent,
    use_language,
)
from tl_core.pipeline.runs import Run
from tl_core.tools.catalogues import ROOT, read_catalogue, sources, template

TRANSLATED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]
# What a translation must keep as it is: format fields, Streamlit's icons, code in backticks,
# and the Markdown line breaks.
KEPT = re.compile(r"\{[a-z_]+\}|:material/[a-z_]+:|`[^`]+`|  \n")


@pytest.fixture(autouse=True)
def english_again():
    yield
    use_language(SOURCE_LANGUAGE)


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_the_app_shows_is_translated(code: str) -> None:
    """Fails naming each message of the code that the language's catalogue lacks, leaves
    empty or marks fuzzy (`python -m tl_core.tools.catalogues` adds new ones to translate)."""
    wanted = {message.id for message in template() if message.id}
    catalog = {message.id: message for message in read_catalogue(code) if message.id}
    missing = sorted(
        message
        for message in wanted
        if message not in catalog or not catalog[message].string or catalog[message].fuzzy
    )
    assert len(wanted) > 300, f"only {len(wanted)} messages found: is extraction broken?"
    assert not missing, f"{len(missing)} of {len(wanted)} messages lack a {code} translation: " + (
        "; ".join(missing[:10])
    )


@pytest.mark.parametrize("code", TRANSLATED)
def test_a_translation_keeps_every_field_icon_and_code_of_its_message(code: str) -> None:
    """A translation that drops `{digit}` would print the wrong sentence, one that renames
    it would crash the page."""
    changed = [
        f"{message.id!r} -> {message.string!r}"
        for message in read_catalogue(code)
        if message.id
        and message.string
        and sorted(KEPT.findall(message.id)) != sorted(KEPT.findall(message.string))
    ]
    assert not changed, "\n".join(changed)


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_translation_fills_in_its_fields(code: str) -> None:
    """A stray brace in a translation would crash the page that shows it."""
    for message in read_catalogue(code):
        if message.id and message.string:
            fields = dict.fromkeys(re.findall(r"\{([a-z_]+)\}", message.id), "7")
            message.string.format(**fields)  # raises on a broken translation


PAGES = ["data", "train", "draw", "results", "compare", "inside", "classroom"]


EVERY_PAGE_BY_DEFAULT = "pl"  # one language in the default run (a run per page); all when slow


@pytest.mark.parametrize(
    "code",
    [
        code if code == EVERY_PAGE_BY_DEFAULT else pytest.param(code, marks=pytest.mark.slow)
        for code in TRANSLATED
    ],
)
def test_every_page_runs_in_each_language_with_a_model_and_a_drawing(
    code: str, trained_run: Run
) -> None:
    """Each page, in the language chosen, with a trained model and a 7 on the canvas: no
    page fails, and each says something in that language."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.session_state["language"] = code
    app.session_state["canvas-0"] = canvas_value(
        lambda draw: draw.line([(60, 40), (200, 40), (110, 250)], fill="white", width=18)
    )
    app.run()
    use_language(code)
    for name in PAGES:
        app.switch_page(f"pages/{name}.py").run()
        assert not app.exception, (name, app.exception)
        shown = [e.value for kind in ("markdown", "caption", "info") for e in getattr(app, kind)]
        assert not re.search(r"\{[a-z_]+\}", " ".join(map(str, shown))), (name, "a field unfilled")
    app.switch_page("pages/draw.py").run()
    guess = [m for m in app.metric if m.label == _("The network says")]
    assert len(guess) == 1 and guess[0].value in "0123456789"


# Streamlit calls whose first argument, or these keywords, a student reads.
SHOWN_BY = {
    "title", "header", "subheader", "markdown", "caption", "write", "text", "info", "warning",
    "error", "success", "toast", "button", "download_button", "form_submit_button",
    "page_link", "link_button", "metric", "radio", "selectbox", "multiselect", "slider",
    "select_slider", "checkbox", "toggle", "number_input", "text_input", "text_area",
    "file_uploader", "expander", "popover", "pills", "segmented_control", "spinner",
    "progress", "image", "tabs", "Page", "status",
}  # fmt: skip
SHOWN_KEYWORDS = {"label", "help", "placeholder", "caption", "alt", "text", "title", "value"}
NAMES = {"MNIST", "ImageNet", "VGG16", "Digit Lab", "TFLite", "Keras"}  # the same in every language


def words_in(node: ast.expr) -> str:
    """The letters a string literal or an f-string's literal parts put on screen."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
    else:
        return ""
    text = re.sub(r":material/[a-z_]+:|`[^`]*`", "", text)
    for name in NAMES:
        text = text.replace(name, "")
    return "".join(re.findall(r"[A-Za-z]{2,}", text))


def test_no_page_shows_a_sentence_that_was_not_marked_for_translation() -> None:
    """Every literal handed to a Streamlit element in app.py and pages/ goes through `_`."""
    unmarked = []
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in SHOWN_BY:
                continue
            first = node.args[:1] if node.func.attr != "Page" else []  # st.Page's is a path
            shown = first + [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
            for argument in shown:
                if isinstance(argument, ast.List | ast.Tuple):  # st.tabs([...])
                    candidates = list(argument.elts)
                else:
                    candidates = [argument]
                for candidate in candidates:
                    if words_in(candidate):
                        where = f"{path.relative_to(ROOT)}:{candidate.lineno}"
                        unmarked.append(f"{where} {ast.unparse(candidate)[:70]}")
    assert not unmarked, "\n".join(unmarked)


def test_the_catalogues_cover_the_pages_and_the_core() -> None:
    """The extraction reads the app, its pages and tl_core, not the command line."""
    read = {str(path.relative_to(ROOT)) for path in sources()}
    assert {"app.py", "pages/draw.py", "tl_core/serving/jobs.py"} <= read
    assert "tl_core/cli.py" not in read


@pytest.mark.parametrize(
    ("locale", "code"),
    [
        ("pl-PL", "pl"),
        ("es-419", "es"),
        ("bn-BD", "bn"),
        ("hi", "hi"),
        ("de-DE", "en"),
        (None, "en"),
    ],
)
def test_the_browsers_language_picks_the_default(locale: str | None, code: str) -> None:
    assert language_from_locale(locale) == code


def test_numbers_follow_the_language_and_keep_the_digits_0_to_9() -> None:
    shown = {}
    for code in LANGUAGES:
        use_language(code)
        values = (percent(0.923), percent(0.9234, 1), number(70_000), number(0.977, 3))
        shown[code] = tuple(value.replace("\xa0", " ") for value in values)  # no-break spaces
    assert shown["en"] == ("92%", "92.3%", "70,000", "0.977")
    assert shown["es"] == ("92 %", "92,3 %", "70.000", "0,977")
    assert shown["pl"][1:] == ("92,3%", "70 000", "0,977")
    for code in ("bn", "hi"):
        assert all(re.fullmatch(r"[0-9.,% ]+", value) for value in shown[code]), shown[code]


def test_a_sentence_made_in_a_worker_thread_is_read_in_each_students_language() -> None:
    """A job's progress is made once, in the worker thread, and read by every student."""
    made: list[Text] = []
    worker = threading.Thread(target=lambda: made.append(Text("Stopping")))
    worker.start()
    worker.join()
    (message,) = made
    assert message == "Stopping"  # files and logs keep English
    read = {}
    for code in LANGUAGES:
        use_language(code)
        read[code] = str(message)
        assert f"{message}" == read[code]
    assert read["en"] == "Stopping"
    assert len(set(read.values())) == len(LANGUAGES), read


def test_a_sentence_with_a_field_is_filled_after_translation() -> None:
    use_language("es")
    translated = _("Right, it is a {digit}", digit=7)
    assert "7" in translated
    assert translated != "Right, it is a 7"


@pytest.mark.parametrize("code", TRANSLATED)
def test_home_speaks_the_language_chosen_in_the_sidebar(code: str) -> None:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["language"] = code
    app.run()
    assert not app.exception, app.exception
    use_language(code)
    subheaders = [element.value for element in app.subheader]
    assert _("Transfer learning in seven steps") in subheaders
    assert "Transfer learning in seven steps" not in subheaders
    assert app.sidebar.selectbox[0].value == code


def test_every_language_is_offered_in_the_sidebar_menu() -> None:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    menu = app.sidebar.selectbox[0]
    assert menu.options == list(LANGUAGES.values())
    assert menu.value == "en"
    menu.select("pl").run()
    use_language("pl")
    assert _("Transfer learning in seven steps") in [element.value for element in app.subheader]
