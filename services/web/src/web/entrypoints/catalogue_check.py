"""Which messages of the portal have no French yet: `python -m web.entrypoints.catalogue_check [area]`.

Prints .po entries to paste into ``translations/fr/<area>.po``; the unit tests fail while any is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from web.entrypoints.i18n import LANGUAGES, TRANSLATIONS_DIR

PACKAGE = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]


def used_messages(package: Path = PACKAGE) -> dict[str, list[str]]:
    """Every message the code and templates ask to translate, with where it is used."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(package),
        method_map=METHODS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=KEYWORDS,
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def translated(language: str, directory: Path = TRANSLATIONS_DIR) -> dict[str, str]:
    messages: dict[str, str] = {}
    for po_file in sorted((directory / language).glob("*.po")):
        with po_file.open("rb") as handle:
            for entry in read_po(handle, locale=language):
                if entry.id and entry.string and not entry.fuzzy:
                    for msgid, text in zip(
                        entry.id if isinstance(entry.id, tuple) else (entry.id,),
                        entry.string if isinstance(entry.string, tuple) else (entry.string,),
                        strict=False,
                    ):
                        messages[msgid] = text
    return messages


def missing(language: str, area: str | None = None) -> dict[str, list[str]]:
    have = translated(language)
    return {
        msgid: places
        for msgid, places in used_messages().items()
        if msgid not in have and (area is None or any(area in place for place in places))
    }


def _po_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


if __name__ == "__main__":
    area = sys.argv[1] if len(sys.argv) > 1 else None
    for language in LANGUAGES:
        if language == "en":
            continue
        for msgid, places in sorted(missing(language, area).items()):
            print(f'#: {" ".join(places[:3])}\nmsgid {_po_string(msgid)}\nmsgstr ""\n')  # noqa: T201
