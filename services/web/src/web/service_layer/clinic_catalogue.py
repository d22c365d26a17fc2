"""A clinic's catalogue as the booking pages offer it: the clinic, its treatments with billing's prices in
force, its practitioners and rooms, and whether the patient is cleared for IMS.

Scheduling decides who may book what (IMS needs an assessment that found it suitable, with consent); the
pages only avoid offering what would be refused, and say why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.ports import Apis

PAGE_SIZE = 100  # the APIs' listing pages; a clinic has far fewer practitioners or treatments
ASSESSMENT = "assessment"
TREATMENT = "treatment"


class NotOffered(Exception):
    """A step was reached with a choice the page would not have offered (e.g. IMS before clearance)."""


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


def whose(patient_id: str) -> dict[str, str]:  # staff name the patient; a patient books for themselves
    return {"patient_id": patient_id} if patient_id else {}


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
        lambda: apis.scheduling.get(clearance_path, token=credentials.access_token, params=whose(patient_id)),
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
