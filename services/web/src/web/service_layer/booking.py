"""Booking, always in the signed-in patient's name (or the patient staff name): one appointment, a
treatment plan's sessions, moving an appointment, and its calendar file and the patient's calendar feed.

What a clinic offers is read in clinic_catalogue, when it is free in slot_search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from web.domain import plans as plan_rules
from web.domain import slots as slot_rules
from web.domain.plans import ProposalRow, Series
from web.domain.slots import Slot
from web.service_layer.accounts import Credentials
from web.service_layer.clinic_catalogue import rooms, whose
from web.service_layer.ports import ApiError, Apis


class SlotTaken(Exception):
    """The time was taken by someone else meanwhile (or is no longer bookable)."""


class PlanConflict(Exception):
    """Some sessions were taken meanwhile; nothing was booked."""


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


# --- booking one appointment -----------------------------------------------------------------------------


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
                **whose(patient_id),
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
    body = _plan_body(clinic_id, treatment_id, practitioner_id, series, whose(patient_id))
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
    extra = {"overrides": list(overrides), **whose(patient_id)}
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
