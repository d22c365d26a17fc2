"""Treatment plans through the API on SQLite and real PostgreSQL: all or nothing, conflicts, DST, progress."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from clinic_shared.testing.clock import ManualClock
from scheduling.adapters import orm
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue, clear_for_ims
from .test_lifecycle import events_of

VANCOUVER = ZoneInfo("America/Vancouver")


def plan_body(catalogue: Catalogue, patient_id: str, first_day: date, **extra: Any) -> dict[str, Any]:
    return {
        "clinic_id": catalogue.clinic_id,
        "practitioner_id": catalogue.ims_practitioner_id,
        "treatment_type_id": catalogue.ims30_id,
        "sessions": 4,
        "weekday": first_day.weekday(),
        "local_time": "10:00",
        "first_day": first_day.isoformat(),
        "patient_id": patient_id,
    } | extra


def cleared_patient(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, email: str
) -> str:
    patient, _ = api.register_patient(email)
    clear_for_ims(api, admin, catalogue, clock, patient["id"])
    return patient["id"]


def next_monday(clock: ManualClock, weeks: int = 1) -> date:
    today = clock.now().astimezone(VANCOUVER).date()
    return today + timedelta(days=7 * weeks - today.weekday())


def live_appointments(container: Container, patient_id: str, treatment_type_id: str) -> int:
    a = orm.appointments.c
    query = select(func.count()).where(
        a.patient_id == uuid.UUID(patient_id),
        a.treatment_type_id == uuid.UUID(treatment_type_id),
        a.status == "booked",
    )
    with container.engine.connect() as conn:
        return conn.execute(query).scalar() or 0


@pytest.mark.parametrize(
    ("first_day", "utc_hours"),
    [
        pytest.param(date(2027, 3, 1), [18, 18, 17, 17], id="march"),
        pytest.param(date(2027, 10, 25), [17, 17, 18, 18], id="november"),
    ],
)
def test_a_weekly_plan_keeps_its_local_time_across_the_dst_change(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    first_day: date,
    utc_hours: list[int],
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "dst@example.test")
    response = api.client.post("/plans", headers=admin, json=plan_body(catalogue, patient_id, first_day))
    assert response.status_code == 201, response.json
    sessions = response.json["sessions"]
    starts = [datetime.fromisoformat(s["starts_at"]) for s in sessions]
    assert [s.astimezone(VANCOUVER).strftime("%a %H:%M") for s in starts] == ["Mon 10:00"] * 4
    assert [s.astimezone(UTC).hour for s in starts] == utc_hours
    [created] = events_of(container, "scheduling.plan.created")
    assert created.data["total_sessions"] == 4
    booked = [e for e in events_of(container, "scheduling.appointment.booked") if e.data["plan_id"]]
    assert len(booked) == 4


def test_a_local_time_that_does_not_exist_is_reported_and_can_be_overridden(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "gap@example.test")
    body = plan_body(catalogue, patient_id, date(2027, 3, 7), sessions=3, local_time="02:30")
    refused = api.client.post("/plans", headers=admin, json=body)
    assert refused.status_code == 409
    [conflict] = refused.json["conflicts"]
    assert conflict["index"] == 1
    assert conflict["local_date"] == "2027-03-14"
    assert conflict["reason"] == "nonexistent_local_time"
    assert live_appointments(container, patient_id, catalogue.ims30_id) == 0
    override = datetime(2027, 3, 14, 3, 30, tzinfo=VANCOUVER).isoformat()
    accepted = api.client.post(
        "/plans", headers=admin, json=body | {"overrides": [{"index": 1, "starts_at": override}]}
    )
    assert accepted.status_code == 201, accepted.json
    assert (
        accepted.json["sessions"][1]["starts_at"]
        == datetime.fromisoformat(override).astimezone(UTC).isoformat()
    )


def test_colliding_sessions_are_listed_with_alternatives_and_nothing_is_held(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    other_ims = api.client.post(
        f"/clinics/{catalogue.clinic_id}/practitioners",
        headers=admin,
        json={"display_name": "Oona", "registration_number": "PT-3", "ims_qualified": True},
    ).json["id"]
    patient_id = cleared_patient(api, admin, catalogue, clock, "plan@example.test")
    someone, _ = api.register_patient("someone@example.test")
    monday = next_monday(clock)
    taken = datetime.combine(monday + timedelta(weeks=1), datetime.min.time(), tzinfo=VANCOUVER).replace(
        hour=10
    )
    blocker = api.client.post(
        "/appointments",
        headers=admin,
        json={
            "clinic_id": catalogue.clinic_id,
            "practitioner_id": catalogue.ims_practitioner_id,
            "treatment_type_id": catalogue.assessment_id,
            "starts_at": taken.isoformat(),
            "patient_id": someone["id"],
        },
    )
    assert blocker.status_code == 201
    body = plan_body(catalogue, patient_id, monday)
    refused = api.client.post("/plans", headers=admin, json=body)
    assert refused.status_code == 409
    assert refused.content_type == "application/problem+json"
    [conflict] = refused.json["conflicts"]
    assert conflict["index"] == 1
    assert conflict["reason"] == "taken"
    kinds = {a["kind"]: a for a in reversed(conflict["alternatives"])}
    # Nearest on the same day: Ida at 09:30 (ends as the assessment starts); Oona at 10:00 itself.
    assert datetime.fromisoformat(kinds["same_practitioner"]["local_starts_at"]).strftime("%H:%M") == "09:30"
    assert kinds["other_practitioner"]["practitioner_id"] == other_ims
    assert kinds["other_practitioner"]["starts_at"] == taken.astimezone(UTC).isoformat()
    assert live_appointments(container, patient_id, catalogue.ims30_id) == 0
    assert events_of(container, "scheduling.plan.created") == []

    override = {"index": 1, "starts_at": taken.isoformat(), "practitioner_id": other_ims}
    accepted = api.client.post("/plans", headers=admin, json=body | {"overrides": [override]})
    assert accepted.status_code == 201, accepted.json
    assert [s["practitioner_id"] for s in accepted.json["sessions"]] == [
        catalogue.ims_practitioner_id,
        other_ims,
        catalogue.ims_practitioner_id,
        catalogue.ims_practitioner_id,
    ]


def test_a_patient_not_cleared_for_ims_cannot_book_a_plan(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    patient, headers = api.register_patient("uncleared@example.test")
    body = plan_body(catalogue, patient["id"], next_monday(clock))
    response = api.client.post("/plans", headers=headers, json=body)
    assert response.status_code == 422
    assert response.json["invalid-params"][0]["name"] == "treatment_type_id"


def test_plan_progress_extension_and_completion(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "progress@example.test")
    plan = api.client.post(
        "/plans", headers=admin, json=plan_body(catalogue, patient_id, next_monday(clock), sessions=2)
    ).json
    extended = api.client.post(f"/plans/{plan['id']}/extend", headers=admin, json={"sessions": 1})
    assert extended.status_code == 200, extended.json
    assert extended.json["total_sessions"] == 3
    days = [
        datetime.fromisoformat(s["starts_at"]).astimezone(VANCOUVER).date() for s in extended.json["sessions"]
    ]
    assert [(b - a).days for a, b in pairwise(days)] == [7, 7]
    assert len(events_of(container, "scheduling.plan.extended")) == 1
    for number, session in enumerate(extended.json["sessions"], start=1):
        clock.set(datetime.fromisoformat(session["starts_at"]) + timedelta(minutes=30))
        assert api.client.post(f"/appointments/{session['id']}/complete", headers=admin).status_code == 200
        view = api.client.get(f"/plans/{plan['id']}", headers=admin).json
        assert (view["completed_sessions"], view["remaining_sessions"]) == (number, 3 - number)
    assert view["status"] == "completed"
    [completed] = events_of(container, "scheduling.plan.completed")
    assert completed.data["completed_sessions"] == 3


def test_cancelling_this_and_following_cuts_the_rest_of_the_series_and_keeps_the_plan(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "stop@example.test")
    plan = api.client.post(
        "/plans", headers=admin, json=plan_body(catalogue, patient_id, next_monday(clock))
    ).json
    second = plan["sessions"][1]["id"]
    cancelled = api.client.post(
        f"/plans/{plan['id']}/cancel", headers=admin, json={"from_appointment_id": second}
    )
    assert cancelled.status_code == 200
    # The first session stays booked, so the plan is shortened to it rather than cancelled.
    assert (cancelled.json["status"], cancelled.json["total_sessions"]) == ("active", 1)
    assert [s["status"] for s in cancelled.json["sessions"]] == [
        "booked",
        "cancelled",
        "cancelled",
        "cancelled",
    ]
    [event] = events_of(container, "scheduling.plan.shortened")
    assert [str(i) for i in event.data["cancelled_appointment_ids"]] == [
        s["id"] for s in plan["sessions"][1:]
    ]
    session_events = events_of(container, "scheduling.appointment.cancelled")
    assert [e.data["plan_shortened"] for e in session_events] == [True, True, True]


def test_two_concurrent_plans_sharing_one_slot_exactly_one_persists(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    database_url: str,
) -> None:
    rounds = 10 if database_url.startswith("postgresql") else 3
    first = cleared_patient(api, admin, catalogue, clock, "first@example.test")
    second = cleared_patient(api, admin, catalogue, clock, "second@example.test")
    app = api.client.application

    def attempt(barrier: threading.Barrier, body: dict[str, Any]) -> int:
        client = app.test_client()
        barrier.wait()
        return client.post("/plans", headers=admin, json=body).status_code

    for round_number in range(rounds):
        monday = next_monday(clock, 2 + 6 * round_number)
        # Three weekly sessions each; they share only the third Monday of the first plan.
        bodies = [
            plan_body(catalogue, first, monday, sessions=3),
            plan_body(catalogue, second, monday + timedelta(weeks=2), sessions=3),
        ]
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(attempt, [threading.Barrier(2)] * 2, bodies))
        assert Counter(statuses) == Counter({201: 1, 409: 1}), f"round {round_number}: {statuses}"
    booked = live_appointments(container, first, catalogue.ims30_id) + live_appointments(
        container, second, catalogue.ims30_id
    )
    assert booked == 3 * rounds
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM treatment_plans")).scalar() == rounds


def test_listing_plans_shows_a_patient_only_their_own_and_lets_staff_filter(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    me, my_headers = api.register_patient("lister@example.test")
    mine = me["id"]
    clear_for_ims(api, admin, catalogue, clock, mine)
    theirs = cleared_patient(api, admin, catalogue, clock, "other-lister@example.test")

    def create(patient_id: str, weeks: int) -> str:
        body = plan_body(catalogue, patient_id, next_monday(clock, weeks), sessions=2)
        response = api.client.post("/plans", headers=admin, json=body)
        assert response.status_code == 201, response.json
        clock.advance(timedelta(seconds=1))  # oldest first: keep the creation times apart
        return response.json["id"]

    first, stopped, other = create(mine, 1), create(mine, 4), create(theirs, 8)
    assert api.client.post(f"/plans/{stopped}/cancel", headers=admin, json={}).status_code == 200

    own = api.client.get("/plans", headers=my_headers)
    assert own.status_code == 200
    assert [p["id"] for p in own.json] == [first, stopped]
    assert own.json[0]["remaining_sessions"] == 2
    assert len(own.json[0]["sessions"]) == 2
    # A patient asking for someone else's plans still gets only their own.
    snooping = api.client.get("/plans", headers=my_headers, query_string={"patient_id": theirs})
    assert [p["id"] for p in snooping.json] == [first, stopped]
    paged = api.client.get("/plans", headers=my_headers, query_string={"page": 2, "page_size": 1})
    assert [p["id"] for p in paged.json] == [stopped]
    assert json.loads(paged.headers["X-Pagination"])["total"] == 2

    everyone = api.client.get("/plans", headers=admin).json
    assert [p["id"] for p in everyone] == [first, stopped, other]
    active_mine = api.client.get(
        "/plans", headers=admin, query_string={"patient_id": mine, "status": "active"}
    ).json
    assert [p["id"] for p in active_mine] == [first]
    cancelled = api.client.get("/plans", headers=admin, query_string={"status": "cancelled"}).json
    assert [p["id"] for p in cancelled] == [stopped]
    bad = api.client.get("/plans", headers=admin, query_string={"status": "paused"})
    assert bad.status_code == 422
    assert bad.json["invalid-params"][0]["name"] == "status"


def test_sessions_of_one_plan_that_overlap_clash_even_with_different_practitioners(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    other_ims = api.client.post(
        f"/clinics/{catalogue.clinic_id}/practitioners",
        headers=admin,
        json={"display_name": "Oona", "registration_number": "PT-3", "ims_qualified": True},
    ).json["id"]
    patient_id = cleared_patient(api, admin, catalogue, clock, "twice@example.test")
    monday = next_monday(clock)
    first = datetime.combine(monday, datetime.min.time(), tzinfo=VANCOUVER).replace(hour=10)
    # The patient cannot be with Oona at 10:15 while with Ida from 10:00 to 10:30, whatever the database.
    override = {
        "index": 1,
        "starts_at": (first + timedelta(minutes=15)).isoformat(),
        "practitioner_id": other_ims,
    }
    body = plan_body(catalogue, patient_id, monday, sessions=2, overrides=[override])

    refused = api.client.post("/plans", headers=admin, json=body)

    assert refused.status_code == 409, refused.json
    [conflict] = refused.json["conflicts"]
    assert (conflict["index"], conflict["reason"]) == (1, "taken")
    assert conflict["detail"] == "overlaps another session of this plan"
    assert live_appointments(container, patient_id, catalogue.ims30_id) == 0
    preview = api.client.post("/plans/preview", headers=admin, json=body)
    assert preview.status_code == 200, preview.json
    assert [s["status"] for s in preview.json["sessions"]] == ["free", "taken"]
