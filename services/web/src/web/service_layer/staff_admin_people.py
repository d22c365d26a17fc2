"""The clinic admin's people pages: what they ask of scheduling, in the admin's name.

Staff logins (``/staff-accounts``: list, create, disable, enable) and the clinic's practitioners
(``/clinics/{id}/practitioners``) with their weekly working hours and time off. Scheduling checks the admin's
role and clinic again on every call.

A new staff login gets a long random password that nobody is told: its holder sets their own with "Forgot
your password?" on the sign-in page (scheduling e-mails staff a reset link as it does patients).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from web.domain.clinic_setup import DayHours, days_as_instants, instants_as_days, week_from_spans
from web.service_layer.accounts import Credentials
from web.service_layer.listing import every_page
from web.service_layer.ports import Apis

# The staff roles scheduling accepts, in the order the form offers them.
STAFF_ROLES = ("front_desk", "billing", "practitioner", "admin")


# --- staff logins -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffRow:
    id: str
    email: str
    roles: tuple[str, ...]
    practitioner_id: str | None
    active: bool

    @classmethod
    def of(cls, body: dict[str, Any]) -> StaffRow:
        known = [role for role in STAFF_ROLES if role in (body.get("roles") or [])]
        return cls(
            id=str(body["id"]),
            email=str(body["email"]),
            roles=tuple(known),
            practitioner_id=str(body["practitioner_id"]) if body.get("practitioner_id") else None,
            active=bool(body.get("active", True)),
        )


def staff(apis: Apis, credentials: Credentials, clinic_id: str) -> list[StaffRow]:
    """The clinic's staff logins, disabled ones too, by e-mail address."""
    rows = every_page(
        apis.scheduling, "/staff-accounts", credentials.access_token, params={"clinic_id": clinic_id}
    )
    return sorted((StaffRow.of(body) for body in rows), key=lambda row: row.email)


def new_password() -> str:
    """A password nobody is told (the new staff member sets their own by resetting it)."""
    return secrets.token_urlsafe(32)


def add_staff(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    *,
    email: str,
    roles: list[str],
    practitioner_id: str | None,
) -> StaffRow:
    body: dict[str, Any] = {
        "email": email,
        "password": new_password(),
        "roles": roles,
        "clinic_id": clinic_id,
    }
    if practitioner_id:
        body["practitioner_id"] = practitioner_id
    created = apis.scheduling.post("/staff-accounts", json=body, token=credentials.access_token)
    return StaffRow.of(created)


def set_staff_active(apis: Apis, credentials: Credentials, account_id: str, *, active: bool) -> StaffRow:
    action = "enable" if active else "disable"
    changed = apis.scheduling.post(f"/staff-accounts/{account_id}/{action}", token=credentials.access_token)
    return StaffRow.of(changed)


# --- practitioners ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PractitionerRow:
    id: str
    name: str
    registration_number: str
    ims_qualified: bool
    active: bool


def practitioners(apis: Apis, credentials: Credentials, clinic_id: str) -> list[PractitionerRow]:
    """The clinic's practitioners, by name."""
    rows = [
        PractitionerRow(
            id=str(body["id"]),
            name=str(body["display_name"]),
            registration_number=str(body.get("registration_number") or ""),
            ims_qualified=bool(body.get("ims_qualified")),
            active=bool(body.get("active", True)),
        )
        for body in every_page(
            apis.scheduling, f"/clinics/{clinic_id}/practitioners", credentials.access_token
        )
    ]
    return sorted(rows, key=lambda row: row.name.casefold())


def practitioner(
    apis: Apis, credentials: Credentials, clinic_id: str, practitioner_id: str
) -> PractitionerRow | None:
    return next((p for p in practitioners(apis, credentials, clinic_id) if p.id == practitioner_id), None)


def add_practitioner(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    *,
    display_name: str,
    registration_number: str,
    ims_qualified: bool,
) -> None:
    apis.scheduling.post(
        f"/clinics/{clinic_id}/practitioners",
        json={
            "display_name": display_name,
            "registration_number": registration_number,
            "ims_qualified": ims_qualified,
        },
        token=credentials.access_token,
    )


def _practitioner_path(clinic_id: str, practitioner_id: str) -> str:
    return f"/clinics/{clinic_id}/practitioners/{practitioner_id}"


def working_hours(
    apis: Apis, credentials: Credentials, clinic_id: str, practitioner_id: str
) -> list[DayHours] | None:
    """The practitioner's week as seven days (None: no hours set, they work whenever the clinic is open)."""
    body = apis.scheduling.get(
        f"{_practitioner_path(clinic_id, practitioner_id)}/working-hours", token=credentials.access_token
    )
    return week_from_spans(body.get("hours") or [])


def set_working_hours(
    apis: Apis, credentials: Credentials, clinic_id: str, practitioner_id: str, spans: list[dict[str, Any]]
) -> None:
    apis.scheduling.put(
        f"{_practitioner_path(clinic_id, practitioner_id)}/working-hours",
        json={"hours": spans},
        token=credentials.access_token,
    )


@dataclass(frozen=True)
class TimeOffRow:
    id: str
    first_day: date
    last_day: date
    reason: str


def time_off(
    apis: Apis, credentials: Credentials, clinic_id: str, practitioner_id: str, zone: str
) -> list[TimeOffRow]:
    """The practitioner's time off as days of the clinic's calendar, earliest first."""
    rows = []
    path = f"{_practitioner_path(clinic_id, practitioner_id)}/time-off"
    for body in every_page(apis.scheduling, path, credentials.access_token):
        first, last = instants_as_days(
            datetime.fromisoformat(str(body["starts_at"])), datetime.fromisoformat(str(body["ends_at"])), zone
        )
        rows.append(TimeOffRow(str(body["id"]), first, last, str(body.get("reason") or "")))
    return sorted(rows, key=lambda row: (row.first_day, row.last_day))


def add_time_off(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    practitioner_id: str,
    *,
    first_day: date,
    last_day: date,
    zone: str,
    reason: str,
) -> None:
    """Whole days off, the first to the last, in the clinic's calendar."""
    starts, ends = days_as_instants(first_day, last_day, zone)
    apis.scheduling.post(
        f"{_practitioner_path(clinic_id, practitioner_id)}/time-off",
        json={"starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "reason": reason},
        token=credentials.access_token,
    )


def remove_time_off(
    apis: Apis, credentials: Credentials, clinic_id: str, practitioner_id: str, time_off_id: str
) -> None:
    apis.scheduling.delete(
        f"{_practitioner_path(clinic_id, practitioner_id)}/time-off/{time_off_id}",
        token=credentials.access_token,
    )
