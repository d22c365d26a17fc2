"""Helpers that drive the running system through its public HTTP APIs, as the real clients would."""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import httpx

from .system import System


class Journey:
    def __init__(self, system: System) -> None:
        self.system = system
        self.http = httpx.Client(timeout=10)

    def call(
        self, method: str, service: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.request(method, f"{self.system.url(service)}{path}", headers=headers, **kwargs)

    def ok(self, method: str, service: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        response = self.call(method, service, path, token, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def token(self, email: str, password: str) -> str:
        return self.ok("POST", "scheduling", "/auth/token", json={"email": email, "password": password})[
            "access_token"
        ]

    def first_admin(self) -> str:
        email = f"admin-{uuid.uuid4().hex[:8]}@clinic.test"
        self.system.cli(
            "scheduling",
            "create-staff",
            "--email",
            email,
            "--password",
            "admin password 1",
            "--role",
            "admin",
            "--organisation-wide",  # the first admin creates the clinics
        )
        return self.token(email, "admin password 1")

    def staff(self, admin: str, role: str, clinic_id: str) -> str:
        email = f"{role}-{uuid.uuid4().hex[:8]}@clinic.test"
        body = {"email": email, "password": "staff password 1", "roles": [role], "clinic_id": clinic_id}
        self.ok("POST", "scheduling", "/staff-accounts", admin, json=body)
        return self.token(email, "staff password 1")

    def clinic_with_assessment(self, admin: str, price_cents: int) -> dict[str, str]:
        clinic_id = self.clinic(admin)
        return {
            "clinic_id": clinic_id,
            "practitioner_id": self.practitioner(admin, clinic_id, "Ida Needham", "PT-1001"),
            "treatment_type_id": self.assessment(admin, clinic_id, minutes=60, price_cents=price_cents),
        }

    def clinic(self, admin: str, name: str = "Vancouver IMS", timezone: str = "America/Vancouver") -> str:
        """A new clinic (its code made up); returns its id."""
        code = "".join(random.choices(string.ascii_uppercase, k=6))
        body = {
            "code": code,
            "name": name,
            "timezone": timezone,
            "address": "1 Main St, Vancouver BC",
            "phone": "+16045550100",
            "email": "front@clinic.test",
        }
        return str(self.ok("POST", "scheduling", "/clinics", admin, json=body)["id"])

    def practitioner(self, admin: str, clinic_id: str, name: str, registration_number: str) -> str:
        """An IMS-qualified practitioner of the clinic; returns their id."""
        body = {"display_name": name, "registration_number": registration_number, "ims_qualified": True}
        return str(
            self.ok("POST", "scheduling", f"/clinics/{clinic_id}/practitioners", admin, json=body)["id"]
        )

    def assessment(self, admin: str, clinic_id: str, *, minutes: int, price_cents: int) -> str:
        """The clinic's IMS assessment (bookable without an earlier clearance) at a price; returns its id."""
        body = {
            "code": f"ASSESS{minutes}",
            "name": "IMS assessment",
            "kind": "assessment",
            "duration_minutes": minutes,
        }
        treatment = self.ok("POST", "scheduling", f"/clinics/{clinic_id}/treatment-types", admin, json=body)
        self.ok(
            "PUT",
            "billing",
            f"/clinics/{clinic_id}/prices/{treatment['id']}",
            admin,
            json={"amount_cents": price_cents, "currency": "CAD", "effective_from": "2020-01-01"},
        )
        return str(treatment["id"])

    def patient(self, first_name: str = "Ana") -> tuple[str, str, str]:
        email = f"{first_name.lower()}-{uuid.uuid4().hex[:8]}@example.test"
        body = {"email": email, "password": "patient password", "first_name": first_name, "last_name": "Li"}
        patient = self.sign_up(body)
        return patient["id"], email, self.token(email, "patient password")

    def sign_up(self, body: dict[str, Any]) -> dict[str, Any]:
        """Sign up and follow the e-mailed link (taken from the mailbox); returns the new patient."""
        self.ok("POST", "scheduling", "/patients", json=body)
        assert self.system.mailbox is not None, "sign-up links arrive by e-mail"
        token = self.system.mailbox.take_link(body["email"], "sign-up/confirm")
        return self.ok("POST", "scheduling", "/patients/confirm", json={"token": token})["patient"]

    def book(self, token: str, catalogue: dict[str, str], starts_at: datetime) -> httpx.Response:
        return self.call(
            "POST",
            "scheduling",
            "/appointments",
            token,
            json=catalogue | {"starts_at": starts_at.isoformat()},
        )


def next_week_at(hour_utc: int, day_offset: int = 0) -> datetime:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=7 + day_offset)
    return base.replace(hour=hour_utc)


def half_hours(first_day: date, days: int, zone: tzinfo) -> list[datetime]:
    """Every half hour of clinic hours (09:00-17:00 on the clinic's clock) of ``days`` days, in UTC: the
    dense grid of start times the load tests book and move on."""
    return [
        datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        for day in (first_day + timedelta(days=d) for d in range(days))
        for hour in range(9, 17)
        for minute in (0, 30)
    ]
