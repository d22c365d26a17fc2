"""The waitlist as the patient sees it: asking for an earlier time than a booked appointment, and offers.

Scheduling holds a freed time for the first patient waiting whose window it fits, for 30 minutes; taking
it moves the patient's later appointment there (never a second booking). An offer's link names the held
time's id; the entry tells whether the offer is still open, taken, lapsed or withdrawn.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.visits import optional_instant, parse_instant

WAITING = "waiting"
OFFERED = "offered"
BOOKED = "booked"
EXPIRED = "expired"
WITHDRAWN = "withdrawn"
# An offered time must start before the appointment it replaces; this keeps the window clear of it.
BEFORE_APPOINTMENT = timedelta(minutes=1)


@dataclass(frozen=True)
class WaitlistEntry:
    id: str
    clinic_id: str
    treatment_type_id: str
    practitioner_id: str | None
    not_before: datetime
    not_after: datetime
    status: str
    appointment_id: str | None
    offer_id: str | None
    offer_expires_at: datetime | None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> WaitlistEntry:
        def optional(name: str) -> str | None:
            return str(body[name]) if body.get(name) else None

        return cls(
            id=str(body["id"]),
            clinic_id=str(body["clinic_id"]),
            treatment_type_id=str(body["treatment_type_id"]),
            practitioner_id=optional("practitioner_id"),
            not_before=parse_instant(body["not_before"]),
            not_after=parse_instant(body["not_after"]),
            status=str(body["status"]),
            appointment_id=optional("appointment_id"),
            offer_id=optional("offer_appointment_id"),
            offer_expires_at=optional_instant(body.get("offer_expires_at")),
        )

    def active(self, now: datetime) -> bool:
        """Still waiting, or holding an open offer (taken, lapsed and withdrawn entries are done)."""
        return self.status == WAITING or self.offer_state(now) is OfferState.OPEN

    def offer_state(self, now: datetime) -> OfferState:
        return offer_state(self.status, self.offer_expires_at, now)


class OfferState(enum.StrEnum):
    OPEN = "open"  # held for the patient until it expires
    TAKEN = "taken"  # the patient took it
    LAPSED = "lapsed"  # it ran out (the time went to the next patient waiting)
    WITHDRAWN = "withdrawn"  # the patient left the waitlist


def offer_state(status: str, expires_at: datetime | None, now: datetime) -> OfferState:
    """An offer past its expiry has lapsed even before scheduling's sweep (every 30 s) marks it so."""
    if status == BOOKED:
        return OfferState.TAKEN
    if status == WITHDRAWN:
        return OfferState.WITHDRAWN
    if status == OFFERED and (expires_at is None or now < expires_at):
        return OfferState.OPEN
    return OfferState.LAPSED


class DateProblem(enum.StrEnum):
    INCOMPLETE = "incomplete"
    NOT_A_DATE = "not_a_date"
    PAST = "past"
    NOT_BEFORE_APPOINTMENT = "not_before_appointment"


@dataclass(frozen=True)
class DateAnswer:
    """A day/month/year answer: the date, or what is wrong and which parts to highlight."""

    value: date | None = None
    problem: DateProblem | None = None
    wrong_parts: tuple[str, ...] = ()


def read_date(day: str, month: str, year: str) -> DateAnswer:
    """Three boxes as typed (blank: no date asked for). Only the missing or wrong parts are flagged."""
    parts = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    if not any(parts.values()):
        return DateAnswer()
    missing = tuple(name for name, text in parts.items() if not text)
    if missing:
        return DateAnswer(problem=DateProblem.INCOMPLETE, wrong_parts=missing)
    wrong = tuple(name for name, text in parts.items() if not text.isdigit())
    if not wrong and len(parts["year"]) != 4:
        wrong = ("year",)
    if wrong:
        return DateAnswer(problem=DateProblem.NOT_A_DATE, wrong_parts=wrong)
    try:
        return DateAnswer(value=date(int(parts["year"]), int(parts["month"]), int(parts["day"])))
    except ValueError:
        bad_month = not 1 <= int(parts["month"]) <= 12
        return DateAnswer(problem=DateProblem.NOT_A_DATE, wrong_parts=("month",) if bad_month else ("day",))


@dataclass(frozen=True)
class Window:
    not_before: datetime
    not_after: datetime


def earlier_window(
    appointment_starts_at: datetime, earliest: date | None, zone: str, now: datetime
) -> Window | DateProblem:
    """Any start from ``earliest`` (its local midnight; blank: now) until just before the appointment."""
    not_after = appointment_starts_at - BEFORE_APPOINTMENT
    not_before = now
    if earliest is not None:
        local_zone = ZoneInfo(zone)
        if earliest < now.astimezone(local_zone).date():
            return DateProblem.PAST
        not_before = max(now, datetime.combine(earliest, time(0), tzinfo=local_zone))
    if not_before >= not_after:
        return DateProblem.NOT_BEFORE_APPOINTMENT
    return Window(not_before=not_before, not_after=not_after)
