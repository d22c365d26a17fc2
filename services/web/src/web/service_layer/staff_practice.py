"""The practitioner's side of the desk: IMS suitability and consent recorded after an assessment, and a
patient's history at the clinic (appointments past and upcoming, treatment plans with their progress).

``POST /appointments/{id}/suitability`` is the API the portal's IMS clearance reads from; scheduling lets
practitioners and admins record it, a practitioner only on their own assessment. The history reads the
appointment and plan lists with their ``patient_id`` filter, side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.day import Booking
from web.domain.visits import parse_instant
from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.listing import every_page
from web.service_layer.ports import ApiError, Apis
from web.service_layer.staff_day import Refused, name_readers, names_from, reference_reads

SUITABILITY_ROLES = frozenset({"practitioner", "admin"})  # whom scheduling lets record it
# who opens a patient's history (scheduling lets any staff read it; billing staff for the billing part)
HISTORY_ROLES = frozenset({"front_desk", "admin", "practitioner", "billing"})


def may_record_suitability(credentials: Credentials) -> Callable[[Booking], bool]:
    """Whether the page may offer "Record suitability" on a block: a completed assessment, for a practitioner
    or admin, and (scheduling's rule) a practitioner only on an assessment of their own."""
    allowed = bool(SUITABILITY_ROLES & set(credentials.roles))
    own = credentials.practitioner_id

    def may(booking: Booking) -> bool:
        return allowed and booking.completed_assessment and (own is None or own == booking.practitioner_id)

    return may


@dataclass(frozen=True)
class Finding:
    """The patient's latest IMS finding at the clinic (``ims-clearance``)."""

    cleared: bool
    assessed: bool
    suitable: bool | None
    consent_recorded: bool | None
    recorded_at: datetime | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Finding:
        at = body.get("recorded_at")
        return cls(
            cleared=bool(body.get("cleared")),
            assessed=bool(body.get("assessed")),
            suitable=body.get("suitable"),
            consent_recorded=body.get("consent_recorded"),
            recorded_at=parse_instant(str(at)) if at else None,
        )


@dataclass(frozen=True)
class Assessment:
    """The assessment suitability is recorded on, with the names the form shows."""

    id: str
    clinic_id: str
    clinic_name: str
    timezone: str
    patient_id: str
    patient: str
    practitioner_id: str
    practitioner: str
    treatment: str
    starts_at: datetime
    status: str
    kind: str
    finding: Finding | None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def as_booking(self) -> Booking:
        """As the day's block would show it (the same rule decides whether the form is offered)."""
        return Booking(
            id=self.id,
            practitioner_id=self.practitioner_id,
            starts_at=self.starts_at,
            ends_at=self.starts_at,
            status=self.status,
            patient=self.patient,
            treatment=self.treatment,
            kind=self.kind,
        )


def assessment(apis: Apis, credentials: Credentials, appointment_id: str, unnamed: str = "") -> Assessment:
    """The appointment (404: ``Refused('gone')``), its clinic, names and the patient's latest finding."""
    token = credentials.access_token
    try:
        body = apis.scheduling.get(f"/appointments/{appointment_id}", token=token)
    except ApiError as error:
        if error.status in (403, 404):
            raise Refused("gone") from None
        raise
    clinic_id, patient_id = str(body["clinic_id"]), str(body.get("patient_id") or "")
    reads = reference_reads(apis, credentials, clinic_id)
    clearance_path = f"/clinics/{clinic_id}/ims-clearance"
    clinic, practitioners, treatments, clearance, *named = together(
        *reads,
        lambda: _or_none(
            lambda: apis.scheduling.get(clearance_path, token=token, params={"patient_id": patient_id})
        ),
        *name_readers(apis, credentials, clinic_id, [patient_id] if patient_id else []),
    )
    names = names_from(named)
    return Assessment(
        id=str(body["id"]),
        clinic_id=clinic_id,
        clinic_name=str(clinic["name"]),
        timezone=str(clinic["timezone"]),
        patient_id=patient_id,
        patient=names.get(patient_id, unnamed),
        practitioner_id=str(body.get("practitioner_id")),
        practitioner=_name(practitioners, body.get("practitioner_id"), "display_name"),
        treatment=_name(treatments, body.get("treatment_type_id"), "name"),
        starts_at=parse_instant(str(body["starts_at"])),
        status=str(body["status"]),
        kind=str(body.get("kind") or ""),
        finding=Finding.of(clearance) if clearance else None,
    )


def _or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ApiError as error:
        if error.status not in (403, 404):
            raise
        return None


def _name(listed: list[dict[str, Any]], ident: Any, key: str) -> str:
    return next((str(item[key]) for item in listed if str(item["id"]) == str(ident)), "")


def record_suitability(
    apis: Apis, credentials: Credentials, appointment_id: str, *, suitable: bool, consent_recorded: bool
) -> dict[str, Any]:
    """Record the finding; scheduling's refusals come back as ``ApiError`` for the page to place."""
    return dict(
        apis.scheduling.post(
            f"/appointments/{appointment_id}/suitability",
            json={"suitable": suitable, "consent_recorded": consent_recorded},
            token=credentials.access_token,
        )
        or {}
    )


# --- a patient's history ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    id: str
    starts_at: datetime
    ends_at: datetime
    status: str
    kind: str
    treatment: str
    practitioner: str
    local_day: str  # its day in the clinic's zone (the Day view's date)


@dataclass(frozen=True)
class Plan:
    id: str
    status: str
    treatment: str
    practitioner: str
    total: int
    completed: int
    remaining: int
    next_session: datetime | None

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.total) if self.total else 0


@dataclass(frozen=True)
class History:
    clinic_id: str
    clinic_name: str
    timezone: str
    patient_id: str
    patient: str
    finding: Finding | None
    upcoming: list[Visit] = field(default_factory=list)
    past: list[Visit] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """Scheduling names the patient to this member of staff (else: not the clinic's patient)."""
        return bool(self.patient)


UPCOMING = {"booked", "arrived", "proposed"}


def history(apis: Apis, credentials: Credentials, clinic_id: str, patient_id: str, now: datetime) -> History:
    """The patient's appointments at the clinic (upcoming soonest first, past latest first) and plans."""
    token = credentials.access_token
    mine = {"patient_id": patient_id, "clinic_id": clinic_id}
    clinic, practitioners, treatments, visits, plans, clearance, *named = together(
        *reference_reads(apis, credentials, clinic_id),
        lambda: every_page(apis.scheduling, "/appointments", token, mine),
        lambda: every_page(apis.scheduling, "/plans", token, {"patient_id": patient_id}),
        lambda: _or_none(
            lambda: apis.scheduling.get(
                f"/clinics/{clinic_id}/ims-clearance", token=token, params={"patient_id": patient_id}
            )
        ),
        *name_readers(apis, credentials, clinic_id, [patient_id]),
    )
    zone = ZoneInfo(str(clinic["timezone"]))
    who = {str(p["id"]): str(p["display_name"]) for p in practitioners}
    what = {str(t["id"]): str(t["name"]) for t in treatments}
    listed = [
        Visit(
            id=str(a["id"]),
            starts_at=parse_instant(str(a["starts_at"])),
            ends_at=parse_instant(str(a["ends_at"])),
            status=str(a["status"]),
            kind=str(a.get("kind") or ""),
            treatment=what.get(str(a["treatment_type_id"]), ""),
            practitioner=who.get(str(a["practitioner_id"]), ""),
            local_day=parse_instant(str(a["starts_at"])).astimezone(zone).date().isoformat(),
        )
        for a in visits
        if str(a.get("clinic_id")) == clinic_id and str(a.get("patient_id")) == patient_id
    ]
    upcoming = sorted(
        (v for v in listed if v.status in UPCOMING and v.ends_at > now), key=lambda v: v.starts_at
    )
    past = sorted((v for v in listed if v not in upcoming), key=lambda v: v.starts_at, reverse=True)
    return History(
        clinic_id=clinic_id,
        clinic_name=str(clinic["name"]),
        timezone=str(clinic["timezone"]),
        patient_id=patient_id,
        patient=names_from(named).get(patient_id, ""),
        finding=Finding.of(clearance) if clearance else None,
        upcoming=upcoming,
        past=past,
        plans=[
            _plan(p, who, what, now)
            for p in plans
            if str(p.get("clinic_id")) == clinic_id and str(p.get("patient_id")) == patient_id
        ],
    )


def _plan(body: Mapping[str, Any], who: Mapping[str, str], what: Mapping[str, str], now: datetime) -> Plan:
    coming = sorted(
        parse_instant(str(s["starts_at"]))
        for s in body.get("sessions") or []
        if s.get("status") == "booked" and parse_instant(str(s["starts_at"])) > now
    )
    return Plan(
        id=str(body["id"]),
        status=str(body.get("status") or ""),
        treatment=what.get(str(body.get("treatment_type_id")), ""),
        practitioner=who.get(str(body.get("practitioner_id")), ""),
        total=int(body.get("total_sessions") or 0),
        completed=int(body.get("completed_sessions") or 0),
        remaining=int(body.get("remaining_sessions") or 0),
        next_session=coming[0] if coming else None,
    )
