"""The front desk's patient list: what the page asks of scheduling, in the signed-in staff member's name.

``GET /clinics/{id}/patients`` searches the clinic's own list; ``POST .../patients/find`` finds a patient new
to the clinic by exact e-mail or phone (and puts them on the list); ``POST .../patients`` registers a patient
who phoned in, without a password (they set one with "Forgot your password?").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from web.service_layer.accounts import Credentials
from web.service_layer.ports import Apis

PAGE_SIZE = 50
DESK_ROLES = frozenset({"front_desk", "admin"})  # who keeps the clinic's patient list


@dataclass(frozen=True)
class PatientRow:
    id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @classmethod
    def of(cls, body: dict[str, Any]) -> PatientRow:
        return cls(
            id=str(body["id"]),
            first_name=str(body["first_name"]),
            last_name=str(body["last_name"]),
            email=str(body["email"]),
            phone=body.get("phone"),
        )


@dataclass(frozen=True)
class SearchResult:
    patients: list[PatientRow]
    total: int

    @property
    def more(self) -> int:
        """How many matched beyond those shown."""
        return max(0, self.total - len(self.patients))


def search(apis: Apis, credentials: Credentials, clinic_id: str, text: str) -> SearchResult:
    """The clinic's patients whose name, e-mail or phone holds every word of ``text``: the first page."""
    response = apis.scheduling.request(
        "GET",
        f"/clinics/{clinic_id}/patients",
        token=credentials.access_token,
        params={"q": text, "page": 1, "page_size": PAGE_SIZE},
    )
    pagination = json.loads(response.headers.get("X-Pagination") or "{}")
    patients = [PatientRow.of(body) for body in response.json()]
    return SearchResult(patients, int(pagination.get("total") or len(patients)))


def find(
    apis: Apis, credentials: Credentials, clinic_id: str, *, email: str | None, phone: str | None
) -> PatientRow:
    """The patient with exactly this e-mail address or phone number, now on the clinic's list."""
    body = {"email": email} if email is not None else {"phone": phone}
    found = apis.scheduling.post(
        f"/clinics/{clinic_id}/patients/find", json=body, token=credentials.access_token
    )
    return PatientRow.of(found)


@dataclass(frozen=True)
class NewCaller:
    first_name: str
    last_name: str
    email: str
    phone: str | None
    language: str


def register(apis: Apis, credentials: Credentials, clinic_id: str, caller: NewCaller) -> PatientRow:
    """Register a patient who phoned in (no password: they claim the account by resetting it)."""
    created = apis.scheduling.post(
        f"/clinics/{clinic_id}/patients",
        json={
            "first_name": caller.first_name,
            "last_name": caller.last_name,
            "email": caller.email,
            "phone": caller.phone,
            "language": caller.language,
        },
        token=credentials.access_token,
    )
    return PatientRow.of(created)
