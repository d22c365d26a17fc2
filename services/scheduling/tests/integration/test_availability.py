"""Availability through the API on SQLite and real PostgreSQL: hours, closures, time off, rooms, slots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue

VANCOUVER = ZoneInfo("America/Vancouver")
MORNINGS = {"hours": [{"weekday": d, "starts": "09:00", "ends": "12:00"} for d in range(5)]}


def next_weekday(clock: ManualClock, days_ahead: int = 3) -> date:
    day = clock.now().astimezone(VANCOUVER).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=VANCOUVER)


def practitioner_path(catalogue: Catalogue, practitioner_id: str, rest: str) -> str:
    return f"/clinics/{catalogue.clinic_id}/practitioners/{practitioner_id}/{rest}"


def book(api: Api, headers: dict[str, str], catalogue: Catalogue, starts: datetime, **extra: Any) -> Any:
    body = {
        "clinic_id": catalogue.clinic_id,
        "practitioner_id": catalogue.ims_practitioner_id,
        "treatment_type_id": catalogue.assessment_id,
        "starts_at": starts.isoformat(),
    } | extra
    return api.client.post("/appointments", headers=headers, json=body)


def slots(api: Api, headers: dict[str, str], catalogue: Catalogue, day: date, **query: str) -> list[Any]:
    params = {"treatment_type_id": catalogue.assessment_id, "from": day.isoformat(), "to": day.isoformat()}
    response = api.client.get(
        f"/clinics/{catalogue.clinic_id}/slots", headers=headers, query_string=params | query
    )
    assert response.status_code == 200, response.json
    return response.json


def test_slots_lie_inside_working_hours_and_skip_booked_time(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    path = practitioner_path(catalogue, catalogue.ims_practitioner_id, "working-hours")
    assert api.client.put(path, headers=admin, json=MORNINGS).status_code == 200
    assert api.client.get(path, headers=admin).json == MORNINGS
    _, patient = api.register_patient("slots@example.test")
    day = next_weekday(clock)
    offered = slots(api, patient, catalogue, day, practitioner_id=catalogue.ims_practitioner_id)
    # A 60-minute assessment every 15 minutes from 09:00 to 11:00 local.
    assert [s["local_starts_at"][11:16] for s in offered] == [
        f"{h:02d}:{m:02d}" for h in (9, 10) for m in (0, 15, 30, 45)
    ] + ["11:00"]
    assert offered[0]["starts_at"] == local(day, 9).astimezone(ZoneInfo("UTC")).isoformat()
    assert book(api, patient, catalogue, local(day, 9)).status_code == 201
    # The assessment and its 10-minute buffer hold 09:00-10:10.
    remaining = slots(api, patient, catalogue, day, practitioner_id=catalogue.ims_practitioner_id)
    assert [s["local_starts_at"][11:16] for s in remaining] == ["10:15", "10:30", "10:45", "11:00"]


def test_booking_outside_hours_on_a_closure_or_in_time_off_is_refused(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    api.client.put(
        practitioner_path(catalogue, catalogue.ims_practitioner_id, "working-hours"),
        headers=admin,
        json=MORNINGS,
    )
    _, patient = api.register_patient("refused@example.test")
    day = next_weekday(clock)
    afternoon = book(api, patient, catalogue, local(day, 14))
    assert afternoon.status_code == 422
    assert afternoon.json["invalid-params"][0]["name"] == "starts_at"
    assert book(api, patient, catalogue, local(day, 11, 30)).status_code == 422  # would end after 12:00

    away = api.client.post(
        practitioner_path(catalogue, catalogue.ims_practitioner_id, "time-off"),
        headers=admin,
        json={
            "starts_at": local(day, 9).isoformat(),
            "ends_at": local(day, 10).isoformat(),
            "reason": "course",
        },
    )
    assert away.status_code == 201
    assert book(api, patient, catalogue, local(day, 9)).status_code == 422
    assert book(api, patient, catalogue, local(day, 10)).status_code == 201

    holiday = next_weekday(clock, 10)
    closure = api.client.post(
        f"/clinics/{catalogue.clinic_id}/closures",
        headers=admin,
        json={"starts_on": holiday.isoformat(), "ends_on": holiday.isoformat(), "reason": "Family Day"},
    )
    assert closure.status_code == 201
    assert book(api, patient, catalogue, local(holiday, 9)).status_code == 422
    assert slots(api, patient, catalogue, holiday) == []
    listed = api.client.get(f"/clinics/{catalogue.clinic_id}/closures", headers=admin)
    assert [c["reason"] for c in listed.json] == ["Family Day"]


def test_the_clinics_time_off_over_a_window_is_one_list_by_start(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    day = next_weekday(clock)

    def away(practitioner_id: str, starts: datetime, ends: datetime, reason: str) -> None:
        body = {"starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "reason": reason}
        path = practitioner_path(catalogue, practitioner_id, "time-off")
        assert api.client.post(path, headers=admin, json=body).status_code == 201

    away(catalogue.assessor_id, local(day, 13), local(day, 17), "course")
    away(catalogue.ims_practitioner_id, local(day, 8), local(day, 9), "dentist")
    away(catalogue.ims_practitioner_id, local(day, 17), local(day, 18), "after the window")
    away(catalogue.assessor_id, local(day - timedelta(days=1), 9), local(day, 8), "ends as the window opens")
    window = {"from": local(day, 8).isoformat(), "to": local(day, 17).isoformat()}

    listed = api.client.get(f"/clinics/{catalogue.clinic_id}/time-off", headers=admin, query_string=window)
    assert listed.status_code == 200, listed.json
    assert [(t["practitioner_id"], t["reason"]) for t in listed.json] == [
        (catalogue.ims_practitioner_id, "dentist"),
        (catalogue.assessor_id, "course"),
    ]

    backwards = {"from": window["to"], "to": window["from"]}
    refused = api.client.get(
        f"/clinics/{catalogue.clinic_id}/time-off", headers=admin, query_string=backwards
    )
    assert refused.status_code == 422
    assert [p["name"] for p in refused.json["invalid-params"]] == ["to"]
    naive = api.client.get(
        f"/clinics/{catalogue.clinic_id}/time-off", headers=admin, query_string={"from": "2026-01-01T08:00"}
    )
    assert naive.status_code == 422
    _, patient = api.register_patient("no-staff-list@example.test")
    assert (
        api.client.get(
            f"/clinics/{catalogue.clinic_id}/time-off", headers=patient, query_string=window
        ).status_code
        == 403
    )


def test_after_time_off_ending_at_an_odd_minute_slots_stay_on_the_clinics_quarter_hours(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    hours = {"hours": [{"weekday": d, "starts": "09:00", "ends": "18:00"} for d in range(5)]}
    path = practitioner_path(catalogue, catalogue.ims_practitioner_id, "working-hours")
    assert api.client.put(path, headers=admin, json=hours).status_code == 200
    day = next_weekday(clock)
    away = api.client.post(
        practitioner_path(catalogue, catalogue.ims_practitioner_id, "time-off"),
        headers=admin,
        json={
            "starts_at": local(day, 15, 7).isoformat(),
            "ends_at": local(day, 15, 52).isoformat(),
            "reason": "physio board call",
        },
    )
    assert away.status_code == 201, away.json
    _, patient = api.register_patient("grid@example.test")
    offered = slots(api, patient, catalogue, day, practitioner_id=catalogue.ims_practitioner_id)
    times = [s["local_starts_at"][11:16] for s in offered]
    # A 60-minute assessment: the last one before the time off starts at 14:00, the next at 16:00.
    assert times[times.index("14:00") :] == ["14:00", "16:00", "16:15", "16:30", "16:45", "17:00"]
    assert all(t[3:] in ("00", "15", "30", "45") for t in times)
    booked = book(api, patient, catalogue, local(day, 16))
    assert booked.status_code == 201, booked.json


def test_the_clinic_opening_hours_bound_every_practitioner(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    hours = {"hours": [{"weekday": d, "starts": "10:00", "ends": "11:00"} for d in range(7)]}
    assert (
        api.client.put(f"/clinics/{catalogue.clinic_id}/opening-hours", headers=admin, json=hours).status_code
        == 200
    )
    _, patient = api.register_patient("open@example.test")
    day = next_weekday(clock)
    offered = slots(api, patient, catalogue, day)
    # Either practitioner may assess, only at 10:00 (the assessment fills the one open hour).
    assert sorted(s["practitioner_id"] for s in offered) == sorted(
        [catalogue.ims_practitioner_id, catalogue.assessor_id]
    )
    assert {s["local_starts_at"][11:16] for s in offered} == {"10:00"}
    ims = slots(api, patient, catalogue, day, treatment_type_id=catalogue.ims30_id)
    assert {s["practitioner_id"] for s in ims} == {catalogue.ims_practitioner_id}


def test_with_rooms_an_appointment_needs_a_free_room_too(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    room = api.client.post(f"/clinics/{catalogue.clinic_id}/rooms", headers=admin, json={"name": "Bed 1"})
    assert room.status_code == 201
    _, patient = api.register_patient("rooms@example.test")
    day = next_weekday(clock)
    first = book(api, patient, catalogue, local(day, 9))
    assert first.status_code == 201
    assert first.json["room_id"] == room.json["id"]
    clash = book(api, patient, catalogue, local(day, 9, 30), practitioner_id=catalogue.assessor_id)
    assert clash.status_code == 409
    assert "room" in clash.json["detail"]
    sam = slots(api, patient, catalogue, day, practitioner_id=catalogue.assessor_id)
    starts = {s["local_starts_at"][11:16] for s in sam}
    assert "09:30" not in starts
    assert "10:15" in starts


def test_patients_need_the_minimum_notice_and_stay_inside_the_horizon(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    policy = api.client.patch(
        f"/clinics/{catalogue.clinic_id}/booking-policy",
        headers=admin,
        json={"min_notice_minutes": 120, "horizon_days": 30},
    )
    assert policy.status_code == 200
    assert policy.json["min_notice_minutes"] == 120
    patient, headers = api.register_patient("notice@example.test")
    soon = clock.now() + timedelta(minutes=90)
    assert book(api, headers, catalogue, soon).status_code == 422
    assert book(api, headers, catalogue, clock.now() + timedelta(days=31)).status_code == 422
    assert book(api, admin, catalogue, soon, patient_id=patient["id"]).status_code == 201


def test_slot_search_checks_its_range_and_the_practitioners_roster(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("range@example.test")
    day = next_weekday(clock)
    base = f"/clinics/{catalogue.clinic_id}/slots"
    too_long = {
        "treatment_type_id": catalogue.assessment_id,
        "from": day.isoformat(),
        "to": (day + timedelta(days=90)).isoformat(),
    }
    assert api.client.get(base, headers=headers, query_string=too_long).status_code == 422
    not_ims = {
        "treatment_type_id": catalogue.ims30_id,
        "from": day.isoformat(),
        "to": day.isoformat(),
        "practitioner_id": catalogue.assessor_id,
    }
    response = api.client.get(base, headers=headers, query_string=not_ims)
    assert response.status_code == 422
    assert response.json["invalid-params"][0]["name"] == "practitioner_id"


def test_booking_names_the_first_missing_record(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    patient, _ = api.register_patient("missing@example.test")
    nobody = "00000000-0000-4000-8000-000000000000"
    starts = local(next_weekday(clock), 9)
    cases = [
        ({"patient_id": nobody, "clinic_id": nobody}, "patient_id"),
        ({"patient_id": patient["id"], "clinic_id": nobody, "practitioner_id": nobody}, "clinic_id"),
        (
            {"patient_id": patient["id"], "practitioner_id": nobody, "treatment_type_id": nobody},
            "practitioner_id",
        ),
        ({"patient_id": patient["id"], "treatment_type_id": nobody}, "treatment_type_id"),
    ]
    for extra, field in cases:
        response = book(api, admin, catalogue, starts, **extra)
        assert response.status_code == 404, response.json
        assert response.json["invalid-params"][0]["name"] == field


@contextmanager
def statements(container: Container) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs (transaction control and pings left out)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            seen.append(statement)

    event.listen(container.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(container.engine, "before_cursor_execute", record)


def test_a_booking_and_a_month_wide_search_each_read_in_a_few_statements(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient, _ = api.register_patient("budget@example.test")
    day = next_weekday(clock)
    path = practitioner_path(catalogue, catalogue.ims_practitioner_id, "time-off")
    away = {"starts_at": local(day, 13).isoformat(), "ends_at": local(day, 15).isoformat(), "reason": "x"}
    assert api.client.post(path, headers=admin, json=away).status_code == 201
    with statements(container) as booking:
        response = book(api, admin, catalogue, local(day, 9), patient_id=patient["id"])
    assert response.status_code == 201, response.json
    # the parties, everything availability depends on, the patient's overlapping appointment (none), the
    # appointment, its outbox event; on PostgreSQL first the patient's booking turn (an advisory lock)
    assert len(booking) == (6 if container.engine.dialect.name == "postgresql" else 5), booking
    query = {"treatment_type_id": catalogue.assessment_id, "from": day.isoformat()}
    query["to"] = (day + timedelta(days=29)).isoformat()
    with statements(container) as search:
        response = api.client.get(f"/clinics/{catalogue.clinic_id}/slots", headers=admin, query_string=query)
    assert response.status_code == 200, response.json
    # the clinic, the treatment type, the practitioners, everything availability depends on
    assert len(search) == 4, search
