"""English and French: message catalogues (.po files in the repo, read at start-up), dates and money.

Catalogues are plain .po files under ``web/translations/<lang>/``, one per area of the portal, merged at
start-up; nothing is compiled at install time. The language is the one chosen in this browser session,
else the signed-in patient's, else the browser's. Times are always shown in the clinic's zone with the
zone printed beside them, the way people read them ("Mon 7 Dec, 10:00 AM PST").
"""

from __future__ import annotations

import functools
import io
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_timezone_name
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations
from flask import g, request, session

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
# Canadian clinics: read dates and money as Canadians do.
LOCALES = {"en": Locale.parse("en_CA"), "fr": Locale.parse("fr_CA")}
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


def load_catalogues(directory: Path = TRANSLATIONS_DIR) -> dict[str, NullTranslations]:
    """Every language's .po files merged into one gettext catalogue (English is the source text)."""
    catalogues: dict[str, NullTranslations] = {"en": NullTranslations()}
    for language in LANGUAGES:
        merged: Translations | None = None
        for po_file in sorted((directory / language).glob("*.po")):
            with po_file.open("rb") as handle:
                catalog = read_po(handle, locale=language)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            translations = Translations(fp=buffer)
            merged = translations if merged is None else merged.merge(translations)
        if merged is not None:
            catalogues[language] = merged
    return catalogues


_CATALOGUES: dict[str, NullTranslations] = {}


def install(catalogues: dict[str, NullTranslations]) -> None:
    _CATALOGUES.clear()
    _CATALOGUES.update(catalogues)


def current_language() -> str:
    language = g.get("language")
    if language is None:
        language = session.get("language")
        if language not in LANGUAGES:
            language = request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE
        g.language = language
    return str(language)


def locale() -> Locale:
    return LOCALES[current_language()]


def gettext(message: str, **variables: Any) -> str:
    translated = _CATALOGUES.get(current_language(), NullTranslations()).gettext(message)
    return translated % variables if variables else translated


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    translated = _CATALOGUES.get(current_language(), NullTranslations()).ngettext(singular, plural, n)
    return translated % ({"num": n} | variables)


_ = gettext


def as_local(moment: datetime | str, zone: str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo(zone))


def format_when(moment: datetime | str, zone: str) -> str:
    """'Mon, Dec 7, 10:00 a.m. PST' / 'lun. 7 déc., 10 h 00 HNP': day, date, time and the clinic's zone."""
    local = as_local(moment, zone)
    return f"{format_day(local)}, {format_clock(local, zone)}"


def format_day(moment: datetime | date) -> str:
    return format_skeleton("MMMEd", moment, locale=locale())


def format_long_day(moment: datetime | date) -> str:
    return format_date(moment, "full", locale=locale())


def format_clock(moment: datetime, zone: str) -> str:
    """The time of day with the zone's short name, e.g. '10:00 a.m. PST'."""
    local = moment.astimezone(ZoneInfo(zone))
    zone_name = get_timezone_name(local, "short", locale=locale(), zone_variant=None)
    return f"{format_time(local, 'short', locale=locale())} {zone_name}"


def format_hm(moment: datetime | str, zone: str) -> str:
    """The time of day alone on the clinic's clock ('10:00 a.m.', '10 h 00'): the page names the zone once."""
    local = as_local(moment, zone)
    return _short_time(local.hour, local.minute, current_language())


@functools.lru_cache(maxsize=24 * 60 * len(LANGUAGES))
def _short_time(hour: int, minute: int, language: str) -> str:
    # A full day's calendar shows a few hundred times, most of them the same few dozen.
    return format_time(time(hour, minute), "short", locale=LOCALES[language])


def format_zone(zone: str) -> str:
    """The zone's everyday name ('Pacific Time', 'heure du Pacifique')."""
    return get_timezone_name(ZoneInfo(zone), "long", locale=locale(), zone_variant="generic")


def format_money(cents: int, currency: str) -> str:
    """Money is integer minor units; shown with its currency the reader's way ('$40.00', '40,00 $')."""
    return format_currency(Decimal(cents).scaleb(-2), currency, locale=locale())
