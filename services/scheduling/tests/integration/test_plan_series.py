"""A plan's series through the API (issue 10, item 7): "this and following" follows the series order and
shortens the plan; alternatives for a skipped local time are near it; a repeated local time is flagged
and either occurrence can be chosen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue
from .test_lifecycle import events_of
from .test_plans import cleared_patient, next_monday, plan_body

VANCOUVER = ZoneInfo("America/Vancouver")


def local(at: datetime) -> str:
    return at.astimezone(VANCOUVER).strftime("%H:%M")


def test_cancelling_from_a_session_follows_the_series_even_when_a_later_one_was_moved_earlier(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "moved@example.test")
    plan = api.client.post(
        "/plans", headers=admin, json=plan_body(catalogue, patient_id, next_monday(clock))
    ).json
    ids = [s["id"] for s in plan["sessions"]]
    # Session 4 moves to the day after session 2, before session 3.
    second = datetime.fromisoformat(plan["sessions"][1]["starts_at"])
    moved = api.client.post(
        f"/appointments/{ids[3]}/reschedule",
        headers=admin,
        json={"starts_at": (second + timedelta(days=1)).isoformat()},
    )
    assert moved.status_code == 200, moved.json

    cut = api.client.post(f"/plans/{plan['id']}/cancel", headers=admin, json={"from_appointment_id": ids[2]})

    assert cut.status_code == 200, cut.json
    statuses = {s["id"]: s["status"] for s in cut.json["sessions"]}
    assert [statuses[i] for i in ids] == ["booked", "booked", "cancelled", "cancelled"]
    assert (cut.json["status"], cut.json["total_sessions"]) == ("active", 2)


def test_cancelling_from_session_four_shortens_the_plan_which_can_still_be_extended_and_completed(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "shorten@example.test")
    plan = api.client.post(
        "/plans", headers=admin, json=plan_body(catalogue, patient_id, next_monday(clock), sessions=6)
    ).json
    ids = [s["id"] for s in plan["sessions"]]

    cut = api.client.post(f"/plans/{plan['id']}/cancel", headers=admin, json={"from_appointment_id": ids[3]})

    assert cut.status_code == 200, cut.json
    assert (cut.json["status"], cut.json["total_sessions"]) == ("active", 3)
    assert [s["status"] for s in cut.json["sessions"]] == ["booked"] * 3 + ["cancelled"] * 3
    assert (cut.json["completed_sessions"], cut.json["remaining_sessions"]) == (0, 3)
    # The patient is not told the plan was cancelled: the plan says it was shortened.
    assert events_of(container, "scheduling.plan.cancelled") == []
    [shortened] = events_of(container, "scheduling.plan.shortened")
    assert shortened.data["total_sessions"] == 3
    assert shortened.data["previous_total_sessions"] == 6
    assert [str(i) for i in shortened.data["cancelled_appointment_ids"]] == ids[3:]
    sessions_cancelled = events_of(container, "scheduling.appointment.cancelled")
    assert [str(e.data["appointment_id"]) for e in sessions_cancelled] == ids[3:]
    assert {(e.data["with_plan"], e.data["plan_shortened"]) for e in sessions_cancelled} == {(False, True)}

    extended = api.client.post(f"/plans/{plan['id']}/extend", headers=admin, json={"sessions": 1})
    assert extended.status_code == 200, extended.json
    assert extended.json["total_sessions"] == 4
    live = [s for s in extended.json["sessions"] if s["status"] == "booked"]
    third = datetime.fromisoformat(plan["sessions"][2]["starts_at"])
    # The added session continues the shortened series: a week after session 3.
    assert datetime.fromisoformat(live[-1]["starts_at"]) == third + timedelta(weeks=1)
    for session in live:
        clock.set(datetime.fromisoformat(session["starts_at"]) + timedelta(minutes=30))
        assert api.client.post(f"/appointments/{session['id']}/complete", headers=admin).status_code == 200
    done = api.client.get(f"/plans/{plan['id']}", headers=admin).json
    assert (done["status"], done["completed_sessions"], done["remaining_sessions"]) == ("completed", 4, 0)


def test_cancelling_from_the_first_session_cancels_the_plan(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "whole@example.test")
    plan = api.client.post(
        "/plans", headers=admin, json=plan_body(catalogue, patient_id, next_monday(clock))
    ).json
    first = plan["sessions"][0]["id"]
    cancelled = api.client.post(
        f"/plans/{plan['id']}/cancel", headers=admin, json={"from_appointment_id": first}
    )
    assert cancelled.status_code == 200, cancelled.json
    assert (cancelled.json["status"], cancelled.json["total_sessions"]) == ("cancelled", 4)
    assert [s["status"] for s in cancelled.json["sessions"]] == ["cancelled"] * 4
    [event] = events_of(container, "scheduling.plan.cancelled")
    assert len(event.data["cancelled_appointment_ids"]) == 4
    assert events_of(container, "scheduling.plan.shortened") == []
    sessions_cancelled = events_of(container, "scheduling.appointment.cancelled")
    assert {(e.data["with_plan"], e.data["plan_shortened"]) for e in sessions_cancelled} == {(True, False)}


def test_a_session_that_has_taken_place_cannot_be_cut_off_the_plan(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "done@example.test")
    plan = api.client.post(
        "/plans", headers=admin, json=plan_body(catalogue, patient_id, next_monday(clock), sessions=3)
    ).json
    first = plan["sessions"][0]
    clock.set(datetime.fromisoformat(first["starts_at"]) + timedelta(minutes=30))
    assert api.client.post(f"/appointments/{first['id']}/complete", headers=admin).status_code == 200
    refused = api.client.post(
        f"/plans/{plan['id']}/cancel", headers=admin, json={"from_appointment_id": first["id"]}
    )
    assert refused.status_code == 422
    assert refused.json["invalid-params"][0]["name"] == "from_appointment_id"
    later = api.client.post(
        f"/plans/{plan['id']}/cancel", headers=admin, json={"from_appointment_id": plan["sessions"][1]["id"]}
    )
    assert (later.json["status"], later.json["total_sessions"]) == ("active", 1)


def test_alternatives_for_a_skipped_local_time_are_near_it(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "skipped@example.test")
    # 2027-03-14: 02:00 becomes 03:00 in Vancouver; 02:30 does not exist. The clinic is open all day.
    body = plan_body(catalogue, patient_id, date(2027, 3, 14), sessions=1, local_time="02:30")
    preview = api.client.post("/plans/preview", headers=admin, json=body)
    assert preview.status_code == 200, preview.json
    [session] = preview.json["sessions"]
    assert session["status"] == "nonexistent_local_time"
    nearby = [datetime.fromisoformat(a["local_starts_at"]) for a in session["alternatives"]]
    assert [local(a) for a in nearby] == ["03:30", "03:15", "03:45"]
    refused = api.client.post("/plans", headers=admin, json=body)
    assert refused.status_code == 409
    [conflict] = refused.json["conflicts"]
    assert [local(datetime.fromisoformat(a["starts_at"])) for a in conflict["alternatives"]] == [
        "03:30",
        "03:15",
        "03:45",
    ]


def test_a_repeated_local_time_is_flagged_and_either_occurrence_can_be_booked(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    patient_id = cleared_patient(api, admin, catalogue, clock, "repeated@example.test")
    # 2027-11-07: 02:00 PDT becomes 01:00 PST in Vancouver; 01:30 happens twice.
    body = plan_body(catalogue, patient_id, date(2027, 10, 31), sessions=2, local_time="01:30")
    first_pdt = datetime(2027, 11, 7, 8, 30, tzinfo=UTC)
    second_pst = datetime(2027, 11, 7, 9, 30, tzinfo=UTC)

    preview = api.client.post("/plans/preview", headers=admin, json=body).json
    assert [s["ambiguous_local_time"] for s in preview["sessions"]] == [False, True]
    assert datetime.fromisoformat(preview["sessions"][1]["starts_at"]) == first_pdt
    assert preview["sessions"][1]["local_starts_at"].endswith("-07:00")

    later = api.client.post("/plans/preview", headers=admin, json=body | {"occurrence": "second"}).json
    assert [s["ambiguous_local_time"] for s in later["sessions"]] == [False, True]
    assert datetime.fromisoformat(later["sessions"][1]["starts_at"]) == second_pst
    assert later["sessions"][1]["local_starts_at"].endswith("-08:00")
    assert later["sessions"][0]["starts_at"] == preview["sessions"][0]["starts_at"]

    booked = api.client.post("/plans", headers=admin, json=body | {"occurrence": "second"})
    assert booked.status_code == 201, booked.json
    assert [s["ambiguous_local_time"] for s in booked.json["sessions"]] == [False, True]
    assert datetime.fromisoformat(booked.json["sessions"][1]["starts_at"]) == second_pst
    again = api.client.get(f"/plans/{booked.json['id']}", headers=admin).json
    assert [s["ambiguous_local_time"] for s in again["sessions"]] == [False, True]
    assert (
        api.client.post("/plans/preview", headers=admin, json=body | {"occurrence": "third"}).status_code
        == 422
    )


def test_the_occurrence_choice_and_flags_are_in_the_openapi_document(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json["components"]["schemas"]
    assert schemas["CreatePlanRequest"]["properties"]["occurrence"]["enum"] == ["first", "second"]
    assert "occurrence" in schemas["ExtendPlanRequest"]["properties"]
    assert schemas["PreviewSession"]["properties"]["ambiguous_local_time"]["type"] == "boolean"
    assert schemas["PlanSession"]["properties"]["ambiguous_local_time"]["type"] == "boolean"
