"""The clinic admin's set-up forms as plain rules: a week of opening hours and prices typed as money.

Opening hours are local wall-clock times in the clinic's zone, one span per weekday (0 = Monday), as
scheduling's ``/opening-hours`` stores them. No span at all means "open every day, around the clock" to
scheduling, so a week with every day closed cannot be saved: a closure says that instead.

Money is typed the way people write it ("95", "95.00", "$95.00", "95,00 $") and read with ``Decimal`` into
integer cents; floats never hold money.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = tuple(range(7))  # 0 = Monday ... 6 = Sunday, as scheduling numbers them
MAX_CENTS = 100_000_000  # billing's largest price (1,000,000.00)
SLOT_STEPS = (5, 10, 15, 20, 30, 60)  # the slot grids scheduling accepts, in minutes
MAX_NOTICE_MINUTES = 60 * 24 * 14
MAX_HORIZON_DAYS = 730

_CLOCK = re.compile(
    r"^(?P<hour>\d{1,2})(?:\s*[:h.]\s*(?P<minute>\d{2}))?(?:\s*h)?(?:\s*(?P<half>[ap])\.?\s*m\.?)?$",
    re.IGNORECASE,
)


class HoursProblem(enum.StrEnum):
    OPENS_MISSING = "opens_missing"
    CLOSES_MISSING = "closes_missing"
    OPENS_NOT_A_TIME = "opens_not_a_time"
    CLOSES_NOT_A_TIME = "closes_not_a_time"
    CLOSES_BEFORE_OPENS = "closes_before_opens"
    ALL_CLOSED = "all_closed"


@dataclass(frozen=True)
class DayHours:
    """One weekday of the week's table: closed, or open from ``opens`` to ``closes``."""

    weekday: int
    opens: time | None = None
    closes: time | None = None
    joined: bool = False  # the API had several spans that day: shown as the first opening to the last close

    @property
    def closed(self) -> bool:
        return self.opens is None


def field_name(weekday: int, part: str) -> str:
    """The form field of a weekday's part ('closed', 'opens', 'closes'), also the error's anchor."""
    return f"day-{weekday}-{part}"


def week_from_spans(spans: Iterable[Mapping[str, Any]]) -> list[DayHours] | None:
    """The API's spans as seven days (None: no hours set, the clinic is open around the clock)."""
    by_day: dict[int, list[tuple[time, time]]] = {}
    for span in spans:
        by_day.setdefault(int(span["weekday"]), []).append(
            (time.fromisoformat(str(span["starts"])), time.fromisoformat(str(span["ends"])))
        )
    if not by_day:
        return None
    week = []
    for weekday in WEEKDAYS:
        day_spans = sorted(by_day.get(weekday, []))
        if not day_spans:
            week.append(DayHours(weekday))
            continue
        closes = max(ends for _, ends in day_spans)
        week.append(DayHours(weekday, day_spans[0][0], closes, joined=len(day_spans) > 1))
    return week


def form_values(week: list[DayHours] | None) -> dict[str, str]:
    """The table's fields as the page shows them first ('09:00'); no hours yet: every day blank."""
    values: dict[str, str] = {}
    for day in week or []:
        if day.closed:
            values[field_name(day.weekday, "closed")] = "true"
        else:
            assert day.opens is not None
            assert day.closes is not None
            values[field_name(day.weekday, "opens")] = day.opens.strftime("%H:%M")
            values[field_name(day.weekday, "closes")] = day.closes.strftime("%H:%M")
    return values


def parse_clock(text: str) -> time | None:
    """A time of day as people type it: '9', '09:00', '9:30', '17h30', '9 h 30', '5:30 pm', '5 p.m.'."""
    found = _CLOCK.match(text.strip())
    if not found:
        return None
    hour, minute = int(found["hour"]), int(found["minute"] or 0)
    half = (found["half"] or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


@dataclass(frozen=True)
class WeekAnswer:
    """The week's table as answered: the spans to save, or the problems by field (and their weekday)."""

    spans: list[dict[str, Any]]
    problems: dict[str, tuple[HoursProblem, int | None]]

    @property
    def ok(self) -> bool:
        return not self.problems


def read_week(form: Mapping[str, str]) -> WeekAnswer:
    """Seven rows of 'closed' or 'opens'/'closes'; each problem is reported on the field to fix."""
    spans: list[dict[str, Any]] = []
    problems: dict[str, tuple[HoursProblem, int | None]] = {}
    for weekday in WEEKDAYS:
        if str(form.get(field_name(weekday, "closed"), "")).strip() in ("true", "on", "1"):
            continue
        opens_name, closes_name = field_name(weekday, "opens"), field_name(weekday, "closes")
        opens_text = str(form.get(opens_name, "")).strip()
        closes_text = str(form.get(closes_name, "")).strip()
        opens = parse_clock(opens_text) if opens_text else None
        closes = parse_clock(closes_text) if closes_text else None
        if not opens_text:
            problems[opens_name] = (HoursProblem.OPENS_MISSING, weekday)
        elif opens is None:
            problems[opens_name] = (HoursProblem.OPENS_NOT_A_TIME, weekday)
        if not closes_text:
            problems[closes_name] = (HoursProblem.CLOSES_MISSING, weekday)
        elif closes is None:
            problems[closes_name] = (HoursProblem.CLOSES_NOT_A_TIME, weekday)
        if opens is not None and closes is not None:
            if closes <= opens:
                problems[closes_name] = (HoursProblem.CLOSES_BEFORE_OPENS, weekday)
            else:
                spans.append({"weekday": weekday, "starts": f"{opens:%H:%M}", "ends": f"{closes:%H:%M}"})
    if not spans and not problems:
        problems[field_name(0, "closed")] = (HoursProblem.ALL_CLOSED, None)
    return WeekAnswer(spans=spans if not problems else [], problems=problems)


# --- money --------------------------------------------------------------------------------------------


class MoneyProblem(enum.StrEnum):
    MISSING = "missing"
    NOT_MONEY = "not_money"
    TOO_PRECISE = "too_precise"
    TOO_LARGE = "too_large"


_SPACES = re.compile(r"[\s\u00a0\u202f]")
_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")


def parse_cents(text: str) -> int | MoneyProblem:
    """'95', '95.00', '$1,200.50', '95,00 $', '1 200,50' as integer cents; else what is wrong with it."""
    cleaned = _SPACES.sub("", text).replace("$", "")
    if cleaned.upper().endswith("CAD"):
        cleaned = cleaned[:-3]
    if not cleaned:
        return MoneyProblem.MISSING
    if "," in cleaned:
        if _GROUPED.match(cleaned):  # English thousands: 1,200.50
            cleaned = cleaned.replace(",", "")
        elif "." not in cleaned and cleaned.count(",") == 1:  # French decimal comma: 95,00
            cleaned = cleaned.replace(",", ".")
        else:
            return MoneyProblem.NOT_MONEY
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", cleaned):
        return MoneyProblem.NOT_MONEY
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return MoneyProblem.NOT_MONEY
    cents = amount * 100
    if cents != cents.to_integral_value():
        return MoneyProblem.TOO_PRECISE
    if cents > MAX_CENTS:
        return MoneyProblem.TOO_LARGE
    return int(cents)


def cents_as_text(cents: int) -> str:
    """Cents as the form shows them again ('95.00'): what ``parse_cents`` reads back unchanged."""
    return f"{Decimal(cents).scaleb(-2):.2f}"


# --- percentages --------------------------------------------------------------------------------------


MAX_BASIS_POINTS = 10_000  # 100 %


class PercentProblem(enum.StrEnum):
    MISSING = "missing"
    NOT_A_PERCENT = "not_a_percent"
    TOO_PRECISE = "too_precise"
    TOO_LARGE = "too_large"


def parse_basis_points(text: str) -> int | PercentProblem:
    """A percentage typed as '5', '5.5', '5,5', '13 %' as basis points (550); else what is wrong with it."""
    cleaned = _SPACES.sub("", text).rstrip("%").replace(",", ".")
    if not cleaned:
        return PercentProblem.MISSING
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", cleaned):
        return PercentProblem.NOT_A_PERCENT
    basis_points = Decimal(cleaned) * 100
    if basis_points != basis_points.to_integral_value():
        return PercentProblem.TOO_PRECISE
    if basis_points > MAX_BASIS_POINTS:
        return PercentProblem.TOO_LARGE
    return int(basis_points)


def basis_points_as_text(basis_points: int) -> str:
    """Basis points as the form shows them again ('5', '5.5', '12.25'): what ``parse_basis_points`` reads."""
    return f"{Decimal(basis_points).scaleb(-2):f}".rstrip("0").rstrip(".") if basis_points else "0"


# --- prices -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceEntry:
    effective_from: date
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class TreatmentPrices:
    """A treatment type's price in force on a day and those announced after it (earliest first)."""

    in_force: PriceEntry | None
    upcoming: list[PriceEntry]

    @property
    def priced(self) -> bool:
        return self.in_force is not None or bool(self.upcoming)


def prices_on(entries: Iterable[PriceEntry], today: date) -> TreatmentPrices:
    """The latest entry effective on or before ``today`` is in force; later ones are upcoming."""
    ordered = sorted(entries, key=lambda entry: entry.effective_from)
    past = [entry for entry in ordered if entry.effective_from <= today]
    return TreatmentPrices(past[-1] if past else None, [e for e in ordered if e.effective_from > today])


def may_take_effect(effective_from: date, today: date, *, has_prices: bool) -> bool:
    """Billing's rule: once a price list exists, a change applies from today on; the first may be older."""
    return not has_prices or effective_from >= today


# --- a practitioner's time off ------------------------------------------------------------------------


def days_as_instants(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """Whole days of the clinic's calendar, ``first`` to ``last`` inclusive, as the instants scheduling
    stores time off with: from the first day's midnight to the midnight after the last, in the clinic's zone
    (a day with a clock change is 23 or 25 hours long)."""
    tz = ZoneInfo(zone)
    return datetime.combine(first, time(0), tzinfo=tz), datetime.combine(
        last + timedelta(days=1), time(0), tzinfo=tz
    )


def instants_as_days(starts: datetime, ends: datetime, zone: str) -> tuple[date, date]:
    """The clinic's days that time off from ``starts`` to ``ends`` touches (its last instant's day is the
    last; time off ending at midnight does not touch the day that starts then)."""
    tz = ZoneInfo(zone)
    last = max(ends - timedelta(microseconds=1), starts)
    return starts.astimezone(tz).date(), last.astimezone(tz).date()
