"""The clinic's waitlist as the front desk reads it: who waits for an earlier time, for what, with whom and
between when, and the times held for them (an offer and its hold, until it expires).

Scheduling's ``GET /waitlist`` shows staff their own clinic's entries (organisation-wide staff: every
clinic's; the page keeps the clinic chosen). Each held time is the offer's appointment (``GET
/appointments/{offer_appointment_id}``), read side by side with the patients' names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.visits import optional_instant, parse_instant
from web.domain.waitlist import OfferState, WaitlistEntry
from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.listing import every_page
from web.service_layer.ports import ApiError, Apis
from web.service_layer.staff_day import clinic_reference, patient_names

DESK_ROLES = frozenset({"front_desk", "admin"})  # who reads the waitlist


@dataclass(frozen=True)
class Hold:
    """The time held for an open offer: the offer's appointment."""

    starts_at: datetime
    practitioner: str


@dataclass(frozen=True)
class WaitlistRow:
    entry: WaitlistEntry
    patient: str
    treatment: str
    practitioner: str | None  # None: any qualified practitioner
    created_at: datetime | None
    offer: OfferState | None  # None: still waiting, nothing offered
    hold: Hold | None  # the time held, while the offer is open


@dataclass(frozen=True)
class ClinicWaitlist:
    clinic_name: str
    timezone: str
    rows: list[WaitlistRow]  # those still waiting or holding an open offer, earliest asked first
    finished: int  # entries taken, lapsed or withdrawn (not listed)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _hold(apis: Apis, credentials: Credentials, offer_id: str, names: Mapping[str, str]) -> Hold | None:
    try:
        held = apis.scheduling.get(f"/appointments/{offer_id}", token=credentials.access_token)
    except ApiError as error:
        if error.status in (403, 404):
            return None
        raise
    who = str(held.get("practitioner_id"))
    return Hold(parse_instant(str(held["starts_at"])), names.get(who, ""))


def clinic_waitlist(
    apis: Apis, credentials: Credentials, clinic_id: str, now: datetime, *, unnamed: str = ""
) -> ClinicWaitlist:
    """The clinic's active waitlist entries with the patient's name, the treatment, and any time held."""
    (clinic, practitioners, treatments), listed = together(
        lambda: clinic_reference(apis, credentials, clinic_id),
        lambda: every_page(apis.scheduling, "/waitlist", credentials.access_token),
    )
    bodies = [body for body in listed if str(body.get("clinic_id")) == clinic_id]
    entries = [(WaitlistEntry.from_api(body), body) for body in bodies]
    active = [(entry, body) for entry, body in entries if entry.active(now)]
    who = {str(p["id"]): str(p["display_name"]) for p in practitioners}
    kinds = {str(t["id"]): str(t["name"]) for t in treatments}
    offers = [entry.offer_id for entry, _ in active if entry.offer_id and entry.status != "waiting"]
    names, *holds = together(
        lambda: patient_names(apis, credentials, clinic_id, (str(body["patient_id"]) for _, body in active)),
        *(lambda offer_id=offer_id: _hold(apis, credentials, offer_id, who) for offer_id in offers),
    )
    held = dict(zip(offers, holds, strict=True))
    rows = [_row(entry, body, names, kinds, who, held, now, unnamed) for entry, body in active]
    rows.sort(key=lambda row: (row.entry.not_before, row.created_at or row.entry.not_before))
    return ClinicWaitlist(str(clinic["name"]), str(clinic["timezone"]), rows, len(entries) - len(active))


def _row(
    entry: WaitlistEntry,
    body: Mapping[str, Any],
    names: Mapping[str, str],
    kinds: Mapping[str, str],
    who: Mapping[str, str],
    held: Mapping[str, Hold | None],
    now: datetime,
    unnamed: str,
) -> WaitlistRow:
    offered = entry.status != "waiting"
    return WaitlistRow(
        entry=entry,
        patient=names.get(str(body.get("patient_id")), unnamed),
        treatment=kinds.get(entry.treatment_type_id, ""),
        practitioner=who.get(entry.practitioner_id, "") if entry.practitioner_id else None,
        created_at=optional_instant(body.get("created_at")),
        offer=entry.offer_state(now) if offered else None,
        hold=held.get(entry.offer_id or "") if offered else None,
    )
