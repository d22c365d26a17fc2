"""Scheduling's API fuzzed from its own OpenAPI document (schemathesis) on PostgreSQL, as a patient and as an
admin with tokens scheduling issued itself: no server error, and every answer as the document describes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.fuzz import fuzz

from ..conftest import Api, Catalogue

pytestmark = pytest.mark.integration

VANCOUVER = ZoneInfo("America/Vancouver")


def next_weekday_at(clock: ManualClock, hour: int, days_ahead: int) -> datetime:
    day: date = clock.now().astimezone(VANCOUVER).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=VANCOUVER)


def seed(api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock) -> dict[str, Any]:
    """A room, a closure, time off, a patient with a booked assessment: the ids the fuzzer should reach."""
    client, clinic = api.client, f"/clinics/{catalogue.clinic_id}"
    practitioner = f"{clinic}/practitioners/{catalogue.ims_practitioner_id}"

    def created(path: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, headers=headers, json=body)
        assert response.status_code == 201, response.json
        return response.json

    created(f"{clinic}/rooms", admin, {"name": "Bed 1"})
    holiday = next_weekday_at(clock, 9, 30).date()
    closure = created(
        f"{clinic}/closures", admin, {"starts_on": str(holiday), "ends_on": str(holiday), "reason": "Holiday"}
    )
    away = next_weekday_at(clock, 15, 10)
    time_off = created(
        f"{practitioner}/time-off",
        admin,
        {"starts_at": away.isoformat(), "ends_at": (away + timedelta(hours=1)).isoformat()},
    )
    patient, headers = api.register_patient("fuzz.patient@example.test", phone="+16045550111")
    appointment = created(
        "/appointments",
        headers,
        {
            "clinic_id": catalogue.clinic_id,
            "practitioner_id": catalogue.ims_practitioner_id,
            "treatment_type_id": catalogue.assessment_id,
            "starts_at": next_weekday_at(clock, 9, 3).isoformat(),
        },
    )
    return {
        "headers": headers,
        "ids": {
            "clinic_id": catalogue.clinic_id,
            "practitioner_id": catalogue.ims_practitioner_id,
            "treatment_type_id": catalogue.assessment_id,
            "patient_id": patient["id"],
            "appointment_id": appointment["id"],
            "closure_id": closure["id"],
            "time_off_id": time_off["id"],
        },
    }


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("role", ["patient", "admin"])
def test_every_answer_is_as_documented(
    role: str,
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    record_property: Callable[[str, object], None],
) -> None:
    seeded = seed(api, admin, catalogue, clock)
    app: Flask = api.client.application
    headers = seeded["headers"] if role == "patient" else admin
    result = fuzz(app, f"scheduling as {role}", headers=headers, known_ids=seeded["ids"])
    result.record(record_property)
    result.assert_clean()
