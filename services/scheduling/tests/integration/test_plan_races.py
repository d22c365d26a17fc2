"""A plan and its sessions change at the same moment: the plan row is locked first, then its sessions in id
order, so a plan cancellation and a session's own change take turns, and the last two sessions completed at
once complete the plan."""

from __future__ import annotations

from datetime import datetime, timedelta

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue
from .test_appointment_races import duel, rounds_for
from .test_lifecycle import events_of
from .test_plans import cleared_patient, next_monday, plan_body


def test_cancelling_a_plan_while_one_of_its_sessions_is_rescheduled_cancels_every_session(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    database_url: str,
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "plan-cancel-race@example.test")
    app = api.client.application
    for round_number in range(rounds_for(database_url, 8)):
        body = plan_body(
            catalogue, patient_id, next_monday(clock), sessions=3, local_time=f"{8 + round_number:02}:00"
        )
        plan = api.client.post("/plans", headers=admin, json=body)
        assert plan.status_code == 201, plan.json
        moved = plan.json["sessions"][2]
        later = datetime.fromisoformat(moved["starts_at"]) + timedelta(days=1)

        cancelled, rescheduled = duel(
            app,
            (f"/plans/{plan.json['id']}/cancel", {}, admin),
            (f"/appointments/{moved['id']}/reschedule", {"starts_at": later.isoformat()}, admin),
        )

        # The reschedule went first (and its session is cancelled where it moved to) or found it cancelled.
        assert cancelled.status_code == 200, (round_number, cancelled.json.get("detail"))
        assert rescheduled.status_code in (200, 422), (round_number, rescheduled.json)
        view = api.client.get(f"/plans/{plan.json['id']}", headers=admin).json
        assert view["status"] == "cancelled"
        assert [s["status"] for s in view["sessions"]] == ["cancelled"] * 3


def test_the_last_two_sessions_completed_at_once_complete_the_plan(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    database_url: str,
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "plan-complete-race@example.test")
    app = api.client.application
    rounds = rounds_for(database_url, 10)
    for round_number in range(rounds):
        body = plan_body(catalogue, patient_id, next_monday(clock), sessions=2)
        plan = api.client.post("/plans", headers=admin, json=body)
        assert plan.status_code == 201, plan.json
        first, second = plan.json["sessions"]
        clock.set(datetime.fromisoformat(second["starts_at"]) + timedelta(minutes=30))

        answers = duel(
            app,
            (f"/appointments/{first['id']}/complete", {}, admin),
            (f"/appointments/{second['id']}/complete", {}, admin),
        )

        assert [a.status_code for a in answers] == [200, 200], round_number
        view = api.client.get(f"/plans/{plan.json['id']}", headers=admin).json
        assert (view["status"], view["completed_sessions"]) == ("completed", 2), round_number
    assert len(events_of(container, "scheduling.plan.completed")) == rounds
