"""Every .ics scheduling serves reads as the booked instants in parsers other than the one it writes with."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinic_shared.testing.calendars import READERS, Instants
from clinic_shared.testing.clock import ManualClock

from ..conftest import Api

PUBLIC_URL = "http://127.0.0.1:8001"  # scheduling's public address by default (SCHEDULING_PUBLIC_URL)

ZONES = ["America/Vancouver", "America/Toronto", "Europe/Paris", "Australia/Sydney", "Asia/Kolkata"]


def zone_changes(zone: ZoneInfo, start: datetime, days: int) -> list[datetime]:
    """The local days on which the zone's offset changes within ``days`` of ``start``."""
    changes = []
    for day in range(days):
        before, after = start + timedelta(days=day), start + timedelta(days=day + 1)
        if before.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            changes.append(after.astimezone(zone))
    return changes


def visit_days(zone: ZoneInfo, now: datetime) -> list[date]:
    """Days around each offset change in the coming year (both directions), and days in every season."""
    start = now + timedelta(days=3)
    days = {(start + timedelta(days=n)).astimezone(zone).date() for n in (0, 90, 180, 270, 330)}
    for change in zone_changes(zone, start, 360):
        days |= {(change + timedelta(days=n)).date() for n in (-1, 0, 1, 45)}
    return sorted(days)


def book_in_every_zone(api: Api, admin: dict[str, str], patient_id: str, now: datetime) -> dict[str, Any]:
    """One clinic per zone and appointments in the morning (8:00 to 12:00 local) around its changes."""
    booked: dict[str, Any] = {}
    for index, name in enumerate(ZONES):
        clinic = api.client.post(
            "/clinics",
            headers=admin,
            json={
                "code": "ZONE" + "ABCDE"[index],
                "name": f"Clinic in {name}",
                "timezone": name,
                "address": "1 Main St, Suite 100; rear entrance",
                "phone": "+16045550100",
                "email": f"z{index}@clinic.test",
            },
        )
        assert clinic.status_code == 201, clinic.json
        cid = clinic.json["id"]
        policy = api.client.patch(
            f"/clinics/{cid}/booking-policy",
            headers=admin,
            json={"horizon_days": 400, "min_notice_minutes": 0},
        )
        assert policy.status_code == 200, policy.json
        practitioner = api.client.post(
            f"/clinics/{cid}/practitioners",
            headers=admin,
            json={"display_name": f"Practitioner {index}", "registration_number": f"PT-Z{index}"},
        ).json["id"]
        treatment = api.client.post(
            f"/clinics/{cid}/treatment-types",
            headers=admin,
            json={"code": "ASSESS", "name": "Assessment", "kind": "assessment", "duration_minutes": 45},
        ).json["id"]
        zone = ZoneInfo(name)
        for day in visit_days(zone, now):
            local = datetime.combine(day, time(8 + index, 0), tzinfo=zone)
            response = api.client.post(
                "/appointments",
                headers=admin,
                json={
                    "clinic_id": cid,
                    "practitioner_id": practitioner,
                    "treatment_type_id": treatment,
                    "starts_at": local.isoformat(),
                    "patient_id": patient_id,
                },
            )
            assert response.status_code == 201, response.json
            booked[response.json["id"]] = response.json | {"practitioner": practitioner}
    return booked


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


@pytest.mark.parametrize("reader", list(READERS))
def test_every_served_calendar_reads_as_the_booked_instants_in_other_parsers(
    api: Api, admin: dict[str, str], clock: ManualClock, reader: str
) -> None:
    patient, headers = api.register_patient("zones@example.test")
    booked = book_in_every_zone(api, admin, patient["id"], clock.now())
    cancelled = next(iter(booked))
    assert api.client.post(f"/appointments/{cancelled}/cancel", headers=admin, json={}).status_code == 200
    expected: Instants = {
        f"{a['id']}@ims-clinic": (instant(a["starts_at"]), instant(a["ends_at"])) for a in booked.values()
    }

    served: dict[str, bytes] = {}
    for appointment_id in booked:
        response = api.client.get(f"/appointments/{appointment_id}/calendar.ics", headers=headers)
        assert response.status_code == 200
        served[f"appointment {appointment_id}"] = response.data
    patient_feed = api.client.post("/calendar-feeds", headers=headers, json={"owner_kind": "patient"}).json
    served["patient feed"] = api.client.get(patient_feed["url"].removeprefix(PUBLIC_URL)).data
    for practitioner in {a["practitioner"] for a in booked.values()}:
        feed = api.client.post(
            "/calendar-feeds", headers=admin, json={"owner_kind": "practitioner", "owner_id": practitioner}
        ).json
        served[f"practitioner feed {practitioner}"] = api.client.get(
            feed["url"].removeprefix(PUBLIC_URL)
        ).data

    assert len(booked) > 40
    read = READERS[reader]
    for label, content in served.items():
        instants = read(content)
        assert instants, label
        wrong = {uid: (got, expected[uid]) for uid, got in instants.items() if got != expected[uid]}
        assert not wrong, f"{reader} misreads {len(wrong)} of {len(instants)} events in the {label}: {wrong}"
    assert set(read(served["patient feed"])) == set(expected)
