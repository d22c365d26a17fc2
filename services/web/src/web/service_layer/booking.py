"""Booking pages: what they ask of scheduling (clinics, treatments, free times, bookings, plans, calendars)
and of billing (prices in force), always in the signed-in patient's name.

Scheduling decides who may book what (IMS needs an assessment that found it suitable, with consent); the
pages only avoid offering what would be refused, and say why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from web.domain import plans as plan_rules
from web.domain import slots as slot_rules
from web.domain.plans import ProposalRow, Series
from web.domain.slots import Slot, Times
from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.ports import ApiError, Apis

PAGE_SIZE = 100  # the APIs' listing pages; a clinic has far fewer practitioners or treatments
SLOT_PAGE_SIZE = 500  # scheduling's largest slot page
MAX_SLOT_PAGES = 10
SEARCH_DAYS = 62  # scheduling searches at most 62 local days at once
ASSESSMENT = "assessment"
TREATMENT = "treatment"


class SlotTaken(Exception):
    """The time was taken by someone else meanwhile (or is no longer bookable)."""


class NotOffered(Exception):
    """A step was reached with a choice the page would not have offered (e.g. IMS before clearance)."""


class PlanConflict(Exception):
    """Some sessions were taken meanwhile; nothing was booked."""


@dataclass(frozen=True)
class Clinic:
    id: str
    name: str
    address: str
    phone: str
    timezone: str
    currency: str
    horizon_days: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Clinic:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            address=str(data.get("address", "")),
            phone=str(data.get("phone", "")),
            timezone=str(data["timezone"]),
            currency=str(data.get("currency", "CAD")),
            horizon_days=int(data.get("horizon_days", 180)),
        )


@dataclass(frozen=True)
class Treatment:
    id: str
    name: str
    kind: str
    duration_minutes: int
    late_cancel_hours: int
    price_cents: int | None
    currency: str

    @property
    def is_ims(self) -> bool:
        return self.kind == TREATMENT


@dataclass(frozen=True)
class Practitioner:
    id: str
    name: str
    ims_qualified: bool


@dataclass(frozen=True)
class Clearance:
    """Whether IMS may be booked and, if not, which sentence says why."""

    cleared: bool
    assessed: bool
    suitable: bool | None
    consent_recorded: bool | None

    @property
    def reason(self) -> str:
        if self.cleared:
            return ""
        if not self.assessed:
            return "not_assessed"
        if not self.suitable:
            return "not_suitable"
        return "no_consent"


@dataclass(frozen=True)
class Catalogue:
    """One clinic's bookable treatments for this patient and who delivers them."""

    clinic: Clinic
    treatments: list[Treatment]
    practitioners: list[Practitioner]
    clearance: Clearance

    @property
    def offered(self) -> list[Treatment]:
        """Assessments first; IMS treatments only once the patient is cleared for IMS."""
        found = [t for t in self.treatments if t.kind == ASSESSMENT]
        if self.clearance.cleared:
            found += [t for t in self.treatments if t.is_ims]
        return found

    @property
    def has_ims(self) -> bool:
        return any(t.is_ims for t in self.treatments)

    def treatment(self, treatment_id: str | None) -> Treatment:
        found = next((t for t in self.offered if t.id == treatment_id), None)
        if found is None:
            raise NotOffered
        return found

    def qualified(self, treatment: Treatment) -> list[Practitioner]:
        return [p for p in self.practitioners if p.ims_qualified or not treatment.is_ims]

    def practitioner(self, practitioner_id: str | None) -> Practitioner | None:
        return next((p for p in self.practitioners if p.id == practitioner_id), None)

    def names(self) -> dict[str, str]:
        return {p.id: p.name for p in self.practitioners}


@dataclass(frozen=True)
class Appointment:
    id: str
    clinic_id: str
    practitioner_id: str
    treatment_type_id: str
    status: str
    starts_at: datetime
    ends_at: datetime
    free_cancellation_until: datetime | None
    plan_id: str | None
    room_id: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Appointment:
        until = data.get("free_cancellation_until")
        return cls(
            id=str(data["id"]),
            clinic_id=str(data["clinic_id"]),
            practitioner_id=str(data["practitioner_id"]),
            treatment_type_id=str(data["treatment_type_id"]),
            status=str(data["status"]),
            starts_at=slot_rules.parse_instant(str(data["starts_at"])),
            ends_at=slot_rules.parse_instant(str(data["ends_at"])),
            free_cancellation_until=slot_rules.parse_instant(str(until)) if until else None,
            plan_id=str(data["plan_id"]) if data.get("plan_id") else None,
            room_id=str(data["room_id"]) if data.get("room_id") else None,
        )


@dataclass(frozen=True)
class Proposal:
    series: Series
    rows: list[ProposalRow]
    rooms: dict[str, str] = field(default_factory=dict)


# --- the catalogue ---------------------------------------------------------------------------------------


def _all(apis: Apis, credentials: Credentials, path: str) -> list[dict[str, Any]]:
    """A clinic's reference list (treatments, practitioners, rooms): the same for everyone, kept briefly."""
    params = {"page_size": PAGE_SIZE}
    return apis.reference.get(
        path, lambda: list(apis.scheduling.get(path, token=credentials.access_token, params=params))
    )


def clinics(apis: Apis, credentials: Credentials) -> list[Clinic]:
    return [Clinic.from_api(c) for c in _all(apis, credentials, "/clinics")]


def clinic(apis: Apis, credentials: Credentials, clinic_id: str) -> Clinic:
    path = f"/clinics/{clinic_id}"
    found = apis.reference.get(path, lambda: apis.scheduling.get(path, token=credentials.access_token))
    return Clinic.from_api(found)


def _prices_in_force(apis: Apis, credentials: Credentials, clinic_id: str) -> list[dict[str, Any]]:
    path = f"/clinics/{clinic_id}/prices-in-force"
    return apis.reference.get(
        f"billing:{path}", lambda: list(apis.billing.get(path, token=credentials.access_token))
    )


def catalogue(apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str = "") -> Catalogue:
    """The clinic, its treatments with today's prices, its practitioners, and the patient's clearance."""
    clearance_path = f"/clinics/{clinic_id}/ims-clearance"
    place, listed_prices, listed_treatments, listed_practitioners, found = together(
        lambda: clinic(apis, credentials, clinic_id),
        lambda: _prices_in_force(apis, credentials, clinic_id),
        lambda: _all(apis, credentials, f"/clinics/{clinic_id}/treatment-types"),
        lambda: _all(apis, credentials, f"/clinics/{clinic_id}/practitioners"),
        lambda: apis.scheduling.get(
            clearance_path, token=credentials.access_token, params=_whose(patient_id)
        ),
    )
    prices = {
        str(p["treatment_type_id"]): (int(p["amount_cents"]), str(p["currency"])) for p in listed_prices
    }
    treatments = [
        Treatment(
            id=str(t["id"]),
            name=str(t["name"]),
            kind=str(t["kind"]),
            duration_minutes=int(t["duration_minutes"]),
            late_cancel_hours=int(t.get("late_cancel_hours", 24)),
            price_cents=prices.get(str(t["id"]), (None, place.currency))[0],
            currency=prices.get(str(t["id"]), (None, place.currency))[1],
        )
        for t in listed_treatments
        if t.get("active", True)
    ]
    treatments.sort(key=lambda t: (t.kind != ASSESSMENT, t.name))
    practitioners = [
        Practitioner(id=str(p["id"]), name=str(p["display_name"]), ims_qualified=bool(p["ims_qualified"]))
        for p in listed_practitioners
        if p.get("active", True)
    ]
    clearance = Clearance(
        cleared=bool(found["cleared"]),
        assessed=bool(found["assessed"]),
        suitable=found.get("suitable"),
        consent_recorded=found.get("consent_recorded"),
    )
    return Catalogue(place, treatments, practitioners, clearance)


def rooms(apis: Apis, credentials: Credentials, clinic_id: str) -> dict[str, str]:
    return {str(r["id"]): str(r["name"]) for r in _all(apis, credentials, f"/clinics/{clinic_id}/rooms")}


# --- free times ------------------------------------------------------------------------------------------


def _search(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    treatment_id: str,
    practitioner_id: str | None,
    first: date,
    last: date,
    *,
    limit: int | None = None,
) -> list[Slot]:
    params: dict[str, Any] = {
        "treatment_type_id": treatment_id,
        "from": first.isoformat(),
        "to": last.isoformat(),
    }
    if practitioner_id:
        params["practitioner_id"] = practitioner_id
    found: list[Slot] = []
    for page in range(1, MAX_SLOT_PAGES + 1):
        size = min(limit, SLOT_PAGE_SIZE) if limit else SLOT_PAGE_SIZE
        response = apis.scheduling.request(
            "GET",
            f"/clinics/{clinic_id}/slots",
            token=credentials.access_token,
            params=params | {"page": page, "page_size": size},
        )
        found += [Slot.from_api(s) for s in response.json()]
        if limit and len(found) >= limit:
            return found[:limit]
        pagination = json.loads(response.headers.get("X-Pagination") or "{}")
        if not pagination.get("next_page"):
            break
    return found


def earliest_slot(
    apis: Apis,
    credentials: Credentials,
    place: Clinic,
    treatment_id: str,
    practitioner_id: str | None,
    *,
    today: date,
    last_day: date,
) -> Slot | None:
    """The first free time from today up to the clinic's horizon (a few 62-day searches at most)."""
    first = today
    while first <= last_day:
        last = min(first + timedelta(days=SEARCH_DAYS - 1), last_day)
        found = _search(apis, credentials, place.id, treatment_id, practitioner_id, first, last, limit=1)
        if found:
            return found[0]
        first = last + timedelta(days=1)
    return None


def times(
    apis: Apis,
    credentials: Credentials,
    place: Clinic,
    treatment_id: str,
    practitioner_id: str | None,
    requested_week: date | None,
    *,
    now: datetime,
    preferred: Iterable[str] = (),
) -> Times:
    """A week of free times (the one asked for, else the earliest free time's) and the earliest one."""
    zone = place.zone
    today = slot_rules.local_today(now, zone)
    last_day = slot_rules.last_bookable_day(now, zone, place.horizon_days)

    def week_from(monday: date) -> list[Slot]:
        start, end = slot_rules.search_range(monday, today)
        if start > end:
            return []
        return _search(apis, credentials, place.id, treatment_id, practitioner_id, start, end)

    # The week shown is the one asked for, else the earliest free time's, which is most often this one.
    # This week's times start today, so its first free time is the earliest: one search does. Any other
    # week is searched beside the earliest time, and again only if the earliest falls in another week.
    guess = slot_rules.choose_monday(requested_week, today=today, last_day=last_day, fallback=None)
    first: Slot | None
    if guess == slot_rules.monday_of(today):
        found = week_from(guess)
        first = min(found, key=lambda slot: slot.starts_at) if found else None
        if first is None:
            first = earliest_slot(
                apis, credentials, place, treatment_id, practitioner_id, today=today, last_day=last_day
            )
    else:
        first, found = together(
            lambda: earliest_slot(
                apis, credentials, place, treatment_id, practitioner_id, today=today, last_day=last_day
            ),
            lambda: week_from(guess),
        )
    monday = slot_rules.choose_monday(
        requested_week,
        today=today,
        last_day=last_day,
        fallback=first.local(zone).date() if first else None,
    )
    if monday != guess:
        found = week_from(monday)
    if practitioner_id is None:
        found = slot_rules.one_per_time(found, preferred)
    week = slot_rules.week_of(found, monday, zone, today=today, last_day=last_day)
    return Times(week=week, earliest=first, today=today)


# --- booking one appointment -----------------------------------------------------------------------------


def _whose(patient_id: str) -> dict[str, str]:  # staff name the patient; a patient books for themselves
    return {"patient_id": patient_id} if patient_id else {}


def _refused_time(error: ApiError) -> bool:
    """409: taken meanwhile; 422 on the start: no longer inside availability or the booking window."""
    return error.status == 409 or (error.status == 422 and "starts_at" in error.fields)


def book(
    apis: Apis,
    credentials: Credentials,
    *,
    clinic_id: str,
    treatment_id: str,
    practitioner_id: str,
    starts_at: datetime,
    patient_id: str = "",
) -> str:
    """Book and return the appointment's id; ``SlotTaken`` if the time went meanwhile."""
    try:
        booked = apis.scheduling.post(
            "/appointments",
            token=credentials.access_token,
            json={
                "clinic_id": clinic_id,
                "practitioner_id": practitioner_id,
                "treatment_type_id": treatment_id,
                "starts_at": starts_at.isoformat(),
                **_whose(patient_id),
            },
        )
    except ApiError as error:
        if _refused_time(error):
            raise SlotTaken from None
        raise
    return str(booked["id"])


def appointment(apis: Apis, credentials: Credentials, appointment_id: str) -> Appointment:
    found = apis.scheduling.get(f"/appointments/{appointment_id}", token=credentials.access_token)
    return Appointment.from_api(found)


def calendar_file(apis: Apis, credentials: Credentials, appointment_id: str) -> tuple[bytes, str]:
    """The appointment's .ics as scheduling renders it, and its content type."""
    path = f"/appointments/{appointment_id}/calendar.ics"
    response = apis.scheduling.request("GET", path, token=credentials.access_token)
    return response.content, response.headers.get("Content-Type", "text/calendar; charset=utf-8")


def new_calendar_feed(apis: Apis, credentials: Credentials) -> str:
    """A new subscription key for the patient's appointments (scheduling shows it once, keeps a hash)."""
    body = {"owner_kind": "patient"}
    feed = apis.scheduling.post("/calendar-feeds", token=credentials.access_token, json=body)
    return str(feed["token"])


def feed_file(apis: Apis, key: str) -> bytes:
    """The feed's calendar, as scheduling renders it for whoever holds the key (no sign-in)."""
    return bytes(apis.scheduling.request("GET", f"/feeds/{key}.ics").content)


def reschedule(
    apis: Apis, credentials: Credentials, appointment_id: str, slot: Slot, version: int | None = None
) -> None:
    """Move to ``slot`` (if still at ``version``, when given: else ApiError 412); ``SlotTaken`` if it went."""
    try:
        apis.scheduling.post(
            f"/appointments/{appointment_id}/reschedule",
            token=credentials.access_token,
            json={"starts_at": slot.starts_at.isoformat(), "practitioner_id": slot.practitioner_id},
            headers={"If-Match": f'"{version}"'} if version is not None else None,
        )
    except ApiError as error:
        if _refused_time(error):
            raise SlotTaken from None
        raise


# --- treatment plans -------------------------------------------------------------------------------------


def _plan_body(
    clinic_id: str, treatment_id: str, practitioner_id: str, series: Series, extra: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "clinic_id": clinic_id,
        "treatment_type_id": treatment_id,
        "practitioner_id": practitioner_id,
        **series.request(),
        **extra,
    }


def preview_plan(
    apis: Apis,
    credentials: Credentials,
    *,
    clinic_id: str,
    treatment_id: str,
    practitioner_id: str,
    series: Series,
    patient_id: str = "",
) -> Proposal:
    """Every proposed session, free or taken (with the nearest alternatives); nothing is booked or held."""
    body = _plan_body(clinic_id, treatment_id, practitioner_id, series, _whose(patient_id))
    preview = apis.scheduling.post("/plans/preview", token=credentials.access_token, json=body)
    rows = plan_rules.proposal_rows(preview["sessions"])
    names = rooms(apis, credentials, clinic_id) if any(r.room_id for r in rows) else {}
    return Proposal(series, rows, names)


def book_plan(
    apis: Apis,
    credentials: Credentials,
    *,
    clinic_id: str,
    treatment_id: str,
    practitioner_id: str,
    series: Series,
    overrides: Sequence[Mapping[str, Any]],
    patient_id: str = "",
) -> str:
    """Book every session or none; ``PlanConflict`` when some were taken meanwhile."""
    extra = {"overrides": list(overrides), **_whose(patient_id)}
    body = _plan_body(clinic_id, treatment_id, practitioner_id, series, extra)
    try:
        plan = apis.scheduling.post("/plans", token=credentials.access_token, json=body)
    except ApiError as error:
        if _refused_time(error):
            raise PlanConflict from None
        raise
    return str(plan["id"])


def plan_sessions(
    apis: Apis, credentials: Credentials, plan_id: str
) -> tuple[dict[str, Any], list[Appointment]]:
    plan = apis.scheduling.get(f"/plans/{plan_id}", token=credentials.access_token)
    sessions = sorted(
        (Appointment.from_api(s) for s in plan["sessions"] if s["status"] != "cancelled"),
        key=lambda a: a.starts_at,
    )
    return plan, sessions
