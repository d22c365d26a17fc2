"""No double booking, enforced by the database: many simultaneous requests for one time, exactly one wins.

PostgreSQL refuses the overlap with an exclusion constraint (SQLSTATE 23P01 -> 409); SQLite serializes
writers with BEGIN IMMEDIATE so the service's overlap check cannot race.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import text

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue

CONCURRENT_REQUESTS = 50


def race(app: Flask, headers: dict[str, str], bodies: list[dict[str, str]]) -> Counter[int]:
    """Fire every body at once (a barrier releases all threads together) and count the status codes."""
    barrier = threading.Barrier(len(bodies))

    def attempt(body: dict[str, str]) -> int:
        client = app.test_client()
        barrier.wait()
        return client.post("/appointments", headers=headers, json=body).status_code

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return Counter(pool.map(attempt, bodies))


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
                "late_cancellation, cancel_reason FROM appointments WHERE id = :id"
            ),
            {"id": created["id"]},
        )
