"""The translation catalogues kept in step with the code: `python -m tl_core.tools.catalogues`.

Babel extracts every message the app shows (`_`, `N_` and `Text` in app.py, pages/ and
tl_core/, not the command line's English) into `tl_core/locales/messages.pot`, then merges
it into each language's `.po`: a new message arrives empty for the translator, a changed one
is marked fuzzy (shown in English until a translator checks it), a removed one is dropped.
tests/test_languages.py fails while any message lacks a translation.
"""

from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from tl_core.i18n import DOMAIN, LANGUAGES, LOCALES, SOURCE_LANGUAGE, catalogue_path

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None, "Text": None}
NOT_SHOWN_IN_THE_APP = ("tl_core/cli.py", "tl_core/tools/", "tl_core/__main__.py")


def sources() -> Iterator[Path]:
    """The files whose messages the app shows."""
    yield ROOT / "app.py"
    for folder in ("pages", "tl_core"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not str(path.relative_to(ROOT)).startswith(NOT_SHOWN_IN_THE_APP):
                yield path


def template() -> Catalog:
    """Every message in the code, with the places it comes from."""
    catalog = Catalog(project="Digit Lab", domain=DOMAIN, fuzzy=False)
    for path in sources():
        for line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords=KEYWORDS
        ):
            catalog.add(message, locations=[(str(path.relative_to(ROOT)), line)])
    return catalog


def read_catalogue(code: str) -> Catalog:
    with catalogue_path(code).open("rb") as po:
        return read_po(po, locale=code, domain=DOMAIN)


def update() -> dict[str, int]:
    """Merge the code's messages into every language's catalogue; returns, per language,
    how many messages still need a translator."""
    pot = template()
    LOCALES.mkdir(exist_ok=True)
    with (LOCALES / f"{DOMAIN}.pot").open("wb") as out:
        write_po(out, pot, omit_header=False, sort_output=False, width=100)
    untranslated = {}
    for code in LANGUAGES:
        if code == SOURCE_LANGUAGE:
            continue
        path = catalogue_path(code)
        if path.exists():
            catalog = read_catalogue(code)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=code, domain=DOMAIN, project="Digit Lab", fuzzy=False)
        catalog.update(pot, no_fuzzy_matching=True)
        with path.open("wb") as out:
            write_po(out, catalog, ignore_obsolete=True, width=100)
        untranslated[code] = sum(1 for m in catalog if m.id and (not m.string or m.fuzzy))
    return untranslated


def main() -> None:
    for code, missing in update().items():
        where = catalogue_path(code).relative_to(ROOT)
        print(f"{code}: {missing} messages to translate in {where}")


if __name__ == "__main__":
    main()
