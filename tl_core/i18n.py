"""The app's languages: English, Bengali, Hindi, Polish and Spanish.

Every user-visible sentence is an English message id marked with `_` (translated now) or
`Text` (translated when shown, for a sentence made in one thread and read in another: a
job's progress seen by thirty students, each in their own language). Catalogues are the
gettext `.po` files in `tl_core/locales/`, read with Babel, which also formats numbers in
the reader's locale (Babel keeps the digits 0-9 in Bengali and Hindi as well).

The language is a context variable: each Streamlit session's script run sets it first
(pages/common.py), the CLI and worker threads keep English.
"""

from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Babel loads with the first number shown
    from babel import Locale
    from babel.numbers import NumberPattern

LANGUAGES = {  # code -> the language's own name, as its speakers look for it in a menu
    "en": "English",
    "bn": "বাংলা",
    "hi": "हिन्दी",
    "pl": "Polski",
    "es": "Español",
}
SOURCE_LANGUAGE = "en"
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"

_language: ContextVar[str] = ContextVar("language", default=SOURCE_LANGUAGE)


def use_language(code: str) -> None:
    """Speak `code` in this thread (a session's script run) from now on."""
    _language.set(code if code in LANGUAGES else SOURCE_LANGUAGE)


def current_language() -> str:
    return _language.get()


def language_from_locale(locale: str | None) -> str:
    """The app's language for a browser's locale ("pl-PL" -> "pl"); English where the
    browser asks for one the app does not speak."""
    code = (locale or "").replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else SOURCE_LANGUAGE


def catalogue_path(code: str) -> Path:
    """Where a language's gettext catalogue lives (tl_core/tools/catalogues.py writes it)."""
    return LOCALES / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalogue(code: str) -> dict[str, str]:
    """message id -> translation for one language, read once per process; untranslated and
    fuzzy entries are left out, so they show in English rather than wrong."""
    from babel.messages.pofile import read_po

    path = catalogue_path(code)
    if code == SOURCE_LANGUAGE or not path.exists():
        return {}
    with path.open("rb") as po:
        catalog = read_po(po, locale=code)
    return {
        message.id: message.string
        for message in catalog
        if message.id and message.string and not message.fuzzy and isinstance(message.id, str)
    }


def _(message: str, /, **values: object) -> str:
    """`message` in the current language, its `{name}` fields filled with `values`."""
    translated = catalogue(current_language()).get(message, message)
    return translated.format(**values) if values else translated


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; `_(message)` translates it where
    it is shown (a module constant is made before any session chose a language)."""
    return message


class Text(str):
    """A sentence translated when it is shown, in the language of whoever reads it.

    Its value as a plain string is the English sentence (what a file, a log or a test
    sees); `str()` and formatting translate it into the current language. A job's worker
    thread makes these, and each student's script run shows them in their own language.
    """

    def __new__(cls, message: str, /, **values: object) -> "Text":
        english = (
            message.format(
                **{k: str.__str__(v) if isinstance(v, Text) else v for k, v in values.items()}
            )
            if values
            else message
        )
        text = super().__new__(cls, english)
        text.message, text.values = message, values
        return text

    def __str__(self) -> str:
        return _(self.message, **self.values)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def percent(fraction: float, digits: int = 0) -> str:
    """A fraction as a percentage the way the current language writes it ("92 %" in Spanish)."""
    language = current_language()
    return _percent_pattern(language, digits).apply(fraction, _locale(language))


@cache
def _locale(language: str) -> "Locale":
    from babel import Locale

    return Locale.parse(language)


@cache
def _percent_pattern(language: str, digits: int) -> "NumberPattern":
    """The language's percent pattern ("#,##0%", "#,##0 %", "#,##,##0%") with `digits`
    decimals, parsed once: Draw shows a dozen percentages on every stroke."""
    from babel.numbers import parse_pattern

    pattern = _locale(language).percent_formats[None].pattern
    if digits:
        pattern = pattern.replace("0", "0." + "0" * digits, 1)
    return parse_pattern(pattern)


def number(value: float, digits: int = 0) -> str:
    """A number with the current language's separators ("70 000" in Polish, "0,977" in Spanish)."""
    language = current_language()
    return _number_pattern(digits).apply(value, _locale(language))


@cache
def _number_pattern(digits: int) -> "NumberPattern":
    """Grouped thousands and `digits` decimals, parsed once (`percent` does the same)."""
    from babel.numbers import parse_pattern

    return parse_pattern("#,##0" + ("." + "0" * digits if digits else ""))
