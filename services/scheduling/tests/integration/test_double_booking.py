"""No double booking, enforced by the database: many simultaneous requests for one time, exactly one wins.

PostgreSQL refuses the overlap with an exclusion constraint (SQLSTATE 23P01 -> 409); SQLite serializes
writers with BEGIN IMMEDIATE so the service's overlap check cannot race.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import text

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue, clear_for_ims

CONCURRENT_REQUESTS = 50


def race(
    app: Flask, headers: dict[str, str], bodies: list[dict[str, str]], paths: list[str] | None = None
) -> Counter[int]:
    """Fire every body at once (a barrier releases all threads together) and count the status codes."""
    barrier = threading.Barrier(len(bodies))
    targets = paths or ["/appointments"] * len(bodies)

    def attempt(path: str, body: dict[str, str]) -> int:
        client = app.test_client()
        barrier.wait()
        return client.post(path, headers=headers, json=body).status_code

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return Counter(pool.map(attempt, targets, bodies))


@pytest.mark.parametrize("rounds", [pytest.param(20, id="20-rounds")])
def test_fifty_simultaneous_overlapping_bookings_give_one_201_and_49_409s(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container, rounds: int, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        rounds = 3  # SQLite serializes everything; three rounds prove the point without the wait.
    _, headers = api.register_patient("racer@example.test")
    app = api.client.application
    for round_number in range(rounds):
        base = clock.now() + timedelta(days=2 + round_number)
        # Every request overlaps every other: start times spread inside one 60-minute appointment.
        bodies = [
            {
                "clinic_id": catalogue.clinic_id,
                "practitioner_id": catalogue.ims_practitioner_id,
                "treatment_type_id": catalogue.assessment_id,
                "starts_at": (base + timedelta(minutes=i % 30)).isoformat(),
            }
            for i in range(CONCURRENT_REQUESTS)
        ]
        statuses = race(app, headers, bodies)
        assert statuses == Counter({201: 1, 409: CONCURRENT_REQUESTS - 1}), (
            f"round {round_number}: {statuses}"
        )
    with container.engine.connect() as conn:
        booked = conn.execute(text("SELECT count(*) FROM appointments WHERE status = 'booked'")).scalar()
    assert booked == rounds


@pytest.mark.parametrize("rounds", [pytest.param(20, id="20-rounds")])
def test_fifty_simultaneous_reschedules_onto_one_time_give_one_200_and_49_409s(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container, rounds: int, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        rounds = 2
    _, headers = api.register_patient("mover@example.test")
    app = api.client.application
    # Fifty appointments, each on its own day, all then racing to one overlapping time per round.
    ids = []
    for i in range(CONCURRENT_REQUESTS):
        body = {
            "clinic_id": catalogue.clinic_id,
            "practitioner_id": catalogue.ims_practitioner_id,
            "treatment_type_id": catalogue.assessment_id,
            "starts_at": (clock.now() + timedelta(days=60 + i)).isoformat(),
        }
        response = api.client.post("/appointments", headers=headers, json=body)
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    for round_number in range(rounds):
        base = clock.now() + timedelta(days=2 + round_number)
        bodies = [{"starts_at": (base + timedelta(minutes=i % 30)).isoformat()} for i in range(len(ids))]
        statuses = race(app, headers, bodies, [f"/appointments/{i}/reschedule" for i in ids])
        assert statuses == Counter({200: 1, 409: CONCURRENT_REQUESTS - 1}), (
            f"round {round_number}: {statuses}"
        )
    with container.engine.connect() as conn:
        moved = conn.execute(
            text("SELECT count(*) FROM appointments WHERE status = 'booked' AND starts_at < :limit"),
            {"limit": clock.now() + timedelta(days=30)},
        ).scalar()
    # A winner that wins again moves on, so at most ``rounds`` and at least one appointment were moved.
    assert 1 <= moved <= rounds


@pytest.mark.parametrize("rounds", [pytest.param(10, id="10-rounds")])
def test_fifty_simultaneous_overlapping_plans_give_one_201_and_49_409s(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    rounds: int,
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        rounds = 2  # every loser also computes alternatives; two serialized rounds make the point
    patient, _ = api.register_patient("planner@example.test")
    clear_for_ims(api, admin, catalogue, clock, patient["id"])
    app = api.client.application
    zone = ZoneInfo("America/Vancouver")
    for round_number in range(rounds):
        first_day = clock.now().astimezone(zone).date() + timedelta(weeks=1 + 2 * round_number)
        # Two weekly sessions each; every plan's sessions overlap every other plan's.
        bodies = [
            {
                "clinic_id": catalogue.clinic_id,
                "practitioner_id": catalogue.ims_practitioner_id,
                "treatment_type_id": catalogue.ims30_id,
                "sessions": 2,
                "weekday": first_day.weekday(),
                "local_time": f"10:{i % 25:02d}",
                "first_day": first_day.isoformat(),
                "patient_id": patient["id"],
            }
            for i in range(CONCURRENT_REQUESTS)
        ]
        statuses = race(app, admin, bodies, ["/plans"] * len(bodies))
        assert statuses == Counter({201: 1, 409: CONCURRENT_REQUESTS - 1}), (
            f"round {round_number}: {statuses}"
        )
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM treatment_plans")).scalar() == rounds
        sessions = conn.execute(text("SELECT count(*) FROM appointments WHERE plan_id IS NOT NULL")).scalar()
    assert sessions == 2 * rounds


def test_the_database_itself_refuses_a_room_overlap_that_skips_the_service_check(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite relies on serialized writers")
    api.client.post(f"/clinics/{catalogue.clinic_id}/rooms", headers=admin, json={"name": "Bed 1"})
    _, headers = api.register_patient("room-direct@example.test")
    body = {
        "clinic_id": catalogue.clinic_id,
        "practitioner_id": catalogue.ims_practitioner_id,
        "treatment_type_id": catalogue.assessment_id,
        "starts_at": (clock.now() + timedelta(days=3)).isoformat(),
    }
    created = api.client.post("/appointments", headers=headers, json=body).json
    with (
        container.engine.connect() as conn,
        pytest.raises(Exception, match="ex_appointments_room_overlap"),
    ):
        conn.execute(
            text(
                "INSERT INTO appointments (id, clinic_id, practitioner_id, patient_id, treatment_type_id, "
                "kind, starts_at, ends_at, occupied_until, late_cancel_window, booked_at, status, sequence, "
                "late_cancellation, room_id) SELECT gen_random_uuid(), clinic_id, :other, patient_id, "
                "treatment_type_id, kind, starts_at, ends_at, occupied_until, late_cancel_window, booked_at, "
                "status, sequence, late_cancellation, room_id FROM appointments WHERE id = :id"
            ),
            {"id": created["id"], "other": catalogue.assessor_id},
        )


def test_the_database_itself_refuses_an_overlap_that_skips_the_service_check(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite relies on serialized writers")
    _, headers = api.register_patient("direct@example.test")
    starts = clock.now() + timedelta(days=3)
    body = {
        "clinic_id": catalogue.clinic_id,
        "practitioner_id": catalogue.ims_practitioner_id,
        "treatment_type_id": catalogue.assessment_id,
        "starts_at": starts.isoformat(),
    }
    created = api.client.post("/appointments", headers=headers, json=body).json
    with (
        container.engine.connect() as conn,
        pytest.raises(Exception, match="ex_appointments_practitioner_overlap"),
    ):
        conn.execute(
            text(
                "INSERT INTO appointments SELECT gen_random_uuid(), clinic_id, practitioner_id, patient_id, "
                "treatment_type_id, kind, starts_at + interval '15 minutes', ends_at, occupied_until, "
                "late_cancel_window, booked_at, status, sequence, cancelled_at, cancelled_by, "
                "late_cancellation, cancel_reason, room_id, plan_id, fee_waived, arrived_at, completed_at, "
                "no_show_at, confirmed_at FROM appointments WHERE id = :id"
            ),
            {"id": created["id"]},
        )


@pytest.mark.parametrize("rounds", [pytest.param(3, id="3-rounds")])
def test_twenty_simultaneous_bookings_for_the_only_room_across_two_practitioners_give_one_201(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    rounds: int,
    database_url: str,
) -> None:
    # Each practitioner's own overlap guard lets one of their requests through; only the room guard
    # (PostgreSQL's room exclusion constraint, SQLite's serialized writers) can stop the second one.
    if database_url.startswith("sqlite"):
        rounds = 2
    room = api.client.post(f"/clinics/{catalogue.clinic_id}/rooms", headers=admin, json={"name": "Bed 1"})
    assert room.status_code == 201, room.json
    app = api.client.application
    practitioners = [catalogue.ims_practitioner_id, catalogue.assessor_id]
    requests = 20
    # One patient each, so that the patient's own overlap guard does not stop them before the room's.
    patients = [api.register_patient(f"one-room-{i}@example.test")[0]["id"] for i in range(requests)]
    for round_number in range(rounds):
        starts_at = (clock.now() + timedelta(days=2 + round_number)).isoformat()
        bodies = [
            {
                "clinic_id": catalogue.clinic_id,
                "practitioner_id": practitioners[i % 2],
                "treatment_type_id": catalogue.assessment_id,
                "starts_at": starts_at,
                "patient_id": patients[i],
            }
            for i in range(requests)
        ]
        statuses = race(app, admin, bodies)
        assert statuses == Counter({201: 1, 409: requests - 1}), f"round {round_number}: {statuses}"
    with container.engine.connect() as conn:
        booked = conn.execute(
            text("SELECT count(*), count(DISTINCT room_id) FROM appointments WHERE status = 'booked'")
        ).one()
    assert tuple(booked) == (rounds, 1)
