"""A patient is in one place at a time: overlapping appointments of one patient are refused with a 409
naming the other appointment, checked by the service and enforced by PostgreSQL (an exclusion constraint
like the practitioners' and rooms'). Staff may book an overlap on purpose; plans and waitlist offers keep
the rule too.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from flask import Flask
from sqlalchemy import text
from werkzeug.test import TestResponse

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container
from scheduling.entrypoints.cli import MIGRATIONS

from ..conftest import Api, Catalogue, clear_for_ims
from .test_lifecycle import events_of
from .test_plans import VANCOUVER, next_monday, plan_body
from .test_waitlist import join


def body(catalogue: Catalogue, practitioner_id: str, starts: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "clinic_id": catalogue.clinic_id,
        "practitioner_id": practitioner_id,
        "treatment_type_id": catalogue.assessment_id,
        "starts_at": starts.isoformat(),
    } | extra


def add_practitioners(api: Api, admin: dict[str, str], catalogue: Catalogue, count: int) -> list[str]:
    made = []
    for n in range(count):
        response = api.client.post(
            f"/clinics/{catalogue.clinic_id}/practitioners",
            headers=admin,
            json={"display_name": f"Extra {n}", "registration_number": f"PT-X{n}"},
        )
        assert response.status_code == 201, response.json
        made.append(response.json["id"])
    return made


def race(
    app: Flask, headers: dict[str, str], bodies: list[dict[str, Any]], paths: list[str] | None = None
) -> list[TestResponse]:
    """Post every body at once (a barrier releases all threads together); bookings unless paths say."""
    barrier = threading.Barrier(len(bodies))

    def attempt(path: str, payload: dict[str, Any]) -> TestResponse:
        client = app.test_client()
        barrier.wait()
        return client.post(path, headers=headers, json=payload)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(attempt, paths or ["/appointments"] * len(bodies), bodies))


def assert_names(response: TestResponse, other_id: str) -> None:
    assert response.status_code == 409, response.json
    assert response.content_type == "application/problem+json"
    assert response.json["conflicting_appointment_id"] == other_id
    assert response.json["invalid-params"][0]["name"] == "starts_at"


def test_a_patient_cannot_book_two_practitioners_at_overlapping_times(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("busy@example.test")
    starts = clock.now() + timedelta(days=2)
    first = api.client.post(
        "/appointments", headers=headers, json=body(catalogue, catalogue.assessor_id, starts)
    )
    assert first.status_code == 201, first.json
    # Assessments last 60 minutes (plus the practitioner's 10-minute buffer, which is not the patient's).
    overlapping = body(catalogue, catalogue.ims_practitioner_id, starts + timedelta(minutes=45))
    assert_names(api.client.post("/appointments", headers=headers, json=overlapping), first.json["id"])
    right_after = body(catalogue, catalogue.ims_practitioner_id, starts + timedelta(minutes=60))
    assert api.client.post("/appointments", headers=headers, json=right_after).status_code == 201
    # Another patient may of course book the other practitioner at that time.
    _, someone = api.register_patient("someone@example.test")
    elsewhere = body(catalogue, catalogue.ims_practitioner_id, starts - timedelta(minutes=15))
    assert api.client.post("/appointments", headers=someone, json=elsewhere).status_code == 201


def test_a_cancelled_appointment_frees_the_patient_and_a_move_onto_another_is_refused(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("mover@example.test")
    starts = clock.now() + timedelta(days=2)
    first = api.client.post(
        "/appointments", headers=headers, json=body(catalogue, catalogue.assessor_id, starts)
    )
    later = api.client.post(
        "/appointments",
        headers=headers,
        json=body(catalogue, catalogue.ims_practitioner_id, starts + timedelta(hours=3)),
    )
    assert later.status_code == 201, later.json
    onto_first = api.client.post(
        f"/appointments/{later.json['id']}/reschedule",
        headers=headers,
        json={"starts_at": (starts + timedelta(minutes=30)).isoformat()},
    )
    assert_names(onto_first, first.json["id"])
    assert api.client.get(f"/appointments/{later.json['id']}", headers=headers).json["sequence"] == 0
    assert (
        api.client.post(f"/appointments/{first.json['id']}/cancel", headers=headers, json={}).status_code
        == 200
    )
    moved = api.client.post(
        f"/appointments/{later.json['id']}/reschedule",
        headers=headers,
        json={"starts_at": (starts + timedelta(minutes=30)).isoformat()},
    )
    assert moved.status_code == 200, moved.json


def test_staff_may_book_an_overlap_on_purpose_and_a_patient_may_not_ask_for_one(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    patient, headers = api.register_patient("joint@example.test")
    starts = clock.now() + timedelta(days=2)
    first = api.client.post(
        "/appointments", headers=headers, json=body(catalogue, catalogue.assessor_id, starts)
    )
    assert first.status_code == 201, first.json
    wanted = body(catalogue, catalogue.ims_practitioner_id, starts, allow_patient_overlap=True)
    refused = api.client.post("/appointments", headers=headers, json=wanted)
    assert refused.status_code == 403, refused.json
    without = api.client.post(
        "/appointments",
        headers=admin,
        json=body(catalogue, catalogue.ims_practitioner_id, starts, patient_id=patient["id"]),
    )
    assert_names(without, first.json["id"])
    allowed = api.client.post("/appointments", headers=admin, json=wanted | {"patient_id": patient["id"]})
    assert allowed.status_code == 201, allowed.json
    assert allowed.json["allow_patient_overlap"] is True
    assert first.json["allow_patient_overlap"] is False
    # The allowed one stays allowed when moved within the overlap.
    nudged = api.client.post(
        f"/appointments/{allowed.json['id']}/reschedule",
        headers=admin,
        json={"starts_at": (starts + timedelta(minutes=15)).isoformat()},
    )
    assert nudged.status_code == 200, nudged.json


def test_a_plan_session_on_the_patients_other_appointment_is_refused(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient, _ = api.register_patient("plan-busy@example.test")
    clear_for_ims(api, admin, catalogue, clock, patient["id"])
    monday = next_monday(clock)
    session_time = datetime.combine(monday, time(10), tzinfo=VANCOUVER)  # the plan's first session
    other = api.client.post(
        "/appointments",
        headers=admin,
        json=body(catalogue, catalogue.assessor_id, session_time, patient_id=patient["id"]),
    )
    assert other.status_code == 201, other.json
    plan = api.client.post(
        "/plans", headers=admin, json=plan_body(catalogue, patient["id"], monday, sessions=2)
    )
    assert plan.status_code == 409, plan.json
    [conflict] = plan.json["conflicts"]
    assert conflict["index"] == 0
    assert conflict["reason"] == "taken"
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM treatment_plans")).scalar() == 0


def test_a_freed_time_is_not_offered_to_a_waiting_patient_who_is_busy_then(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, holder = api.register_patient("holder@example.test")
    _, busy_headers = api.register_patient("busy-waiter@example.test")
    free, free_headers = api.register_patient("free-waiter@example.test")
    starts = clock.now() + timedelta(hours=48)
    taken = api.client.post(
        "/appointments", headers=holder, json=body(catalogue, catalogue.ims_practitioner_id, starts)
    )
    assert taken.status_code == 201, taken.json
    elsewhere = api.client.post(
        "/appointments", headers=busy_headers, json=body(catalogue, catalogue.assessor_id, starts)
    )
    assert elsewhere.status_code == 201, elsewhere.json
    join(api, busy_headers, catalogue, clock)  # first in line, but busy at that time
    join(api, free_headers, catalogue, clock)
    cancelled = api.client.post(f"/appointments/{taken.json['id']}/cancel", headers=holder, json={})
    assert cancelled.status_code == 200, cancelled.json
    [offer] = events_of(container, "scheduling.waitlist.offered")
    assert str(offer.data["patient_id"]) == free["id"]


@pytest.mark.parametrize("rounds", [pytest.param(6, id="6-rounds")])
def test_one_patient_booked_with_many_practitioners_at_once_gets_one_appointment(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    rounds: int,
    database_url: str,
) -> None:
    """The incident: the same patient booked at one time by several desks at once, each with another
    practitioner. Exactly one booking wins; every other answer is a 409 naming it, whether the service's
    check or the database's constraint caught it."""
    if database_url.startswith("sqlite"):
        rounds = 2
    practitioners = add_practitioners(api, admin, catalogue, 8)
    app = api.client.application
    for round_number in range(rounds):
        patient, _ = api.register_patient(f"three-places-{round_number}@example.test")
        starts = clock.now() + timedelta(days=2 + round_number)
        bodies = [
            body(catalogue, p, starts + timedelta(minutes=5 * i), patient_id=patient["id"])
            for i, p in enumerate(practitioners)
        ]
        responses = race(app, admin, bodies)
        statuses = Counter(r.status_code for r in responses)
        assert statuses == Counter({201: 1, 409: len(bodies) - 1}), f"round {round_number}: {statuses}"
        [winner] = [r.json["id"] for r in responses if r.status_code == 201]
        for refused in (r for r in responses if r.status_code == 409):
            assert refused.json["conflicting_appointment_id"] == winner, refused.json
    with container.engine.connect() as conn:
        overlaps = conn.execute(
            text(
                "SELECT count(*) FROM appointments a JOIN appointments b ON a.patient_id = b.patient_id "
                "AND a.id < b.id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at "
                "WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'"
            )
        ).scalar()
    assert overlaps == 0


def test_the_database_itself_refuses_a_patient_overlap_that_skips_the_service_check(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite relies on serialized writers")
    _, headers = api.register_patient("direct-patient@example.test")
    created = api.client.post(
        "/appointments",
        headers=headers,
        json=body(catalogue, catalogue.assessor_id, clock.now() + timedelta(days=3)),
    ).json
    copy = (
        "INSERT INTO appointments (id, clinic_id, practitioner_id, patient_id, treatment_type_id, kind, "
        "starts_at, ends_at, occupied_until, late_cancel_window, booked_at, status, sequence, "
        "late_cancellation, allow_patient_overlap) SELECT gen_random_uuid(), clinic_id, :other, patient_id, "
        "treatment_type_id, kind, starts_at + interval '30 minutes', ends_at, occupied_until, "
        "late_cancel_window, booked_at, status, sequence, late_cancellation, :allowed FROM appointments "
        "WHERE id = :id"
    )
    params = {"id": created["id"], "other": catalogue.ims_practitioner_id}
    with (
        container.engine.connect() as conn,
        pytest.raises(Exception, match="ex_appointments_patient_overlap"),
    ):
        conn.execute(text(copy), params | {"allowed": False})
    with container.engine.begin() as conn:
        conn.execute(text(copy), params | {"allowed": True})  # an allowed overlap is left out of the rule


# A copy of an appointment, moved by :minutes and given to :practitioner, written past the service.
COPY_MOVED = (
    "INSERT INTO appointments (id, clinic_id, practitioner_id, patient_id, treatment_type_id, kind, "
    "starts_at, ends_at, occupied_until, late_cancel_window, booked_at, status, sequence, late_cancellation) "
    "SELECT gen_random_uuid(), clinic_id, :practitioner, patient_id, treatment_type_id, kind, "
    "starts_at + make_interval(mins => :minutes), ends_at + make_interval(mins => :minutes), "
    "occupied_until + make_interval(mins => :minutes), late_cancel_window, booked_at, status, sequence, "
    "late_cancellation FROM appointments WHERE id = :id"
)


def test_the_migration_keeps_overlaps_made_before_the_rule_as_allowed_ones(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the constraint, and so the flagging of earlier overlaps, is PostgreSQL's")
    _, headers = api.register_patient("before-the-rule@example.test")
    starts = clock.now() + timedelta(days=3)
    first = api.client.post(
        "/appointments", headers=headers, json=body(catalogue, catalogue.assessor_id, starts)
    )
    assert first.status_code == 201, first.json
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    command.downgrade(config, "0004")
    with container.engine.begin() as conn:
        overlapping = {"id": first.json["id"], "practitioner": catalogue.ims_practitioner_id, "minutes": 15}
        conn.execute(text(COPY_MOVED), overlapping)
        clear = {"id": first.json["id"], "practitioner": catalogue.assessor_id, "minutes": 150}
        conn.execute(text(COPY_MOVED), clear)
    command.upgrade(config, "head")
    container.engine.dispose()  # connections that saw the old table
    with container.engine.connect() as conn:
        flags = conn.execute(text("SELECT allow_patient_overlap FROM appointments ORDER BY starts_at")).all()
    # The earlier of two overlapping appointments stays under the rule and the later one is kept as an
    # allowed overlap; the one clear of both is under the rule.
    assert [flag for (flag,) in flags] == [False, True, False]
    [third] = add_practitioners(api, admin, catalogue, 1)
    again = body(catalogue, third, starts + timedelta(minutes=30))
    assert_names(api.client.post("/appointments", headers=headers, json=again), first.json["id"])
