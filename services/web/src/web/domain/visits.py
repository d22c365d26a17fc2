"""A patient's appointments as the "My appointments" page lists them: upcoming, past, and plan progress.

Appointments come from scheduling with ids for clinic, practitioner and treatment; the service layer adds
the names. Times are UTC here and shown in the clinic's zone by the page. A status is a word on the page
(never a colour alone): ``status_key`` picks which word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# Scheduling's (FHIR) appointment statuses.
PROPOSED = "proposed"  # a waitlist offer's hold, not (yet) the patient's appointment
BOOKED = "booked"
ARRIVED = "arrived"
FULFILLED = "fulfilled"
CANCELLED = "cancelled"
NOSHOW = "noshow"
STILL_ON = frozenset({BOOKED, ARRIVED})


def parse_instant(value: str | datetime) -> datetime:
    """An ISO 8601 time with its offset, as the APIs send them."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment


def optional_instant(value: str | datetime | None) -> datetime | None:
    return parse_instant(value) if value else None


@dataclass(frozen=True)
class Visit:
    """One appointment with the names a person reads: what, with whom, where, when, and how it stands."""

    id: str
    clinic_id: str
    practitioner_id: str
    treatment_type_id: str
    starts_at: datetime
    ends_at: datetime
    status: str
    treatment: str
    practitioner: str
    clinic: str
    timezone: str
    clinic_phone: str = ""
    plan_id: str | None = None
    late_cancellation: bool = False
    fee_waived: bool = False
    free_cancellation_until: datetime | None = None

    @classmethod
    def from_api(cls, body: Mapping[str, Any], names: Names) -> Visit:
        """An appointment from scheduling's API, named with ``names`` (a name not found reads as blank)."""
        clinic = names.clinics.get(str(body["clinic_id"]))
        return cls(
            id=str(body["id"]),
            clinic_id=str(body["clinic_id"]),
            practitioner_id=str(body["practitioner_id"]),
            treatment_type_id=str(body["treatment_type_id"]),
            starts_at=parse_instant(body["starts_at"]),
            ends_at=parse_instant(body["ends_at"]),
            status=str(body["status"]),
            treatment=names.treatments.get(str(body["treatment_type_id"]), ""),
            practitioner=names.practitioners.get(str(body["practitioner_id"]), ""),
            clinic=clinic.name if clinic else "",
            timezone=clinic.timezone if clinic else "UTC",
            clinic_phone=clinic.phone if clinic else "",
            plan_id=str(body["plan_id"]) if body.get("plan_id") else None,
            late_cancellation=bool(body.get("late_cancellation")),
            fee_waived=bool(body.get("fee_waived")),
            free_cancellation_until=optional_instant(body.get("free_cancellation_until")),
        )

    @property
    def local_starts_at(self) -> datetime:
        """The start on the clinic's clock (for the day it falls on there)."""
        return self.starts_at.astimezone(ZoneInfo(self.timezone))

    def is_upcoming(self, now: datetime) -> bool:
        """Still to happen (or happening now): booked or checked in, and not yet over."""
        return self.status in STILL_ON and self.ends_at > now

    def can_cancel(self, now: datetime) -> bool:
        """Patients may cancel a booked appointment until it starts (scheduling's rule)."""
        return self.status == BOOKED and now < self.starts_at

    def can_move(self, now: datetime) -> bool:
        return self.can_cancel(now)

    @property
    def status_key(self) -> str:
        """Which status word the page shows: booked, arrived, attended, missed, cancelled, cancelled_late,
        cancelled_fee_waived."""
        if self.status == CANCELLED:
            if self.late_cancellation and self.fee_waived:
                return "cancelled_fee_waived"
            return "cancelled_late" if self.late_cancellation else "cancelled"
        return {FULFILLED: "attended", NOSHOW: "missed"}.get(self.status, self.status)


@dataclass(frozen=True)
class ClinicName:
    name: str
    timezone: str
    phone: str = ""


@dataclass(frozen=True)
class Names:
    """Names of the clinics, practitioners and treatments the appointments refer to, by id."""

    clinics: Mapping[str, ClinicName]
    practitioners: Mapping[str, str]
    treatments: Mapping[str, str]


def split_upcoming_and_past(visits: Iterable[Visit], now: datetime) -> tuple[list[Visit], list[Visit]]:
    """Upcoming soonest first; past and cancelled most recent first (holds of waitlist offers left out)."""
    shown = [v for v in visits if v.status != PROPOSED]
    upcoming = sorted((v for v in shown if v.is_upcoming(now)), key=lambda v: (v.starts_at, v.id))
    past = sorted(
        (v for v in shown if not v.is_upcoming(now)), key=lambda v: (v.starts_at, v.id), reverse=True
    )
    return upcoming, past


def without_released_offers(visits: Iterable[Visit], offer_ids: Iterable[str]) -> list[Visit]:
    """Leave out the holds of waitlist offers that never became the patient's appointment (released when
    the offer lapsed, was declined, or moved another appointment into its time)."""
    offers = set(offer_ids)
    return [v for v in visits if not (v.id in offers and v.status in (PROPOSED, CANCELLED))]


@dataclass(frozen=True)
class PlanProgress:
    """A treatment plan as "3 of 6 done", with its next session."""

    id: str
    status: str  # active, completed, cancelled
    treatment: str
    practitioner: str
    done: int
    total: int
    cancelled: int
    next_session: Visit | None

    @property
    def remaining(self) -> int:
        return self.total - self.done


def plan_progress(
    plan: Mapping[str, Any], sessions: Sequence[Visit], now: datetime, *, treatment: str, practitioner: str
) -> PlanProgress:
    """Progress counts attended sessions out of those still counting (a session cancelled alone is left
    out of the total and counted apart)."""
    cancelled = sum(1 for s in sessions if s.status == CANCELLED)
    upcoming = sorted((s for s in sessions if s.is_upcoming(now)), key=lambda s: s.starts_at)
    return PlanProgress(
        id=str(plan["id"]),
        status=str(plan["status"]),
        treatment=treatment,
        practitioner=practitioner,
        done=sum(1 for s in sessions if s.status == FULFILLED),
        total=len(sessions) - cancelled,
        cancelled=cancelled,
        next_session=upcoming[0] if upcoming else None,
    )


def session_number(sessions: Sequence[Visit], visit_id: str) -> int | None:
    """Which session of its plan an appointment is (1-based, in time order, cancelled ones included)."""
    ordered = sorted(sessions, key=lambda s: (s.starts_at, s.id))
    return next((n for n, s in enumerate(ordered, start=1) if s.id == visit_id), None)
