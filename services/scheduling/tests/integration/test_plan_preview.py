"""What a patient's booking pages read before booking: a plan preview (nothing held) and IMS clearance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue, clear_for_ims
from .test_lifecycle import events_of
from .test_plans import live_appointments, next_monday, plan_body

VANCOUVER = ZoneInfo("America/Vancouver")


def test_a_preview_lists_every_session_and_offers_alternatives_for_a_taken_one_booking_nothing(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    patient, headers = api.register_patient("preview@example.test")
    clear_for_ims(api, admin, catalogue, clock, patient["id"])
    room = api.client.post(f"/clinics/{catalogue.clinic_id}/rooms", headers=admin, json={"name": "Room 1"})
    assert room.status_code == 201
    someone, _ = api.register_patient("someone-else@example.test")
    monday = next_monday(clock)
    taken = datetime.combine(monday + timedelta(weeks=2), datetime.min.time(), tzinfo=VANCOUVER).replace(
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
    assert blocker.status_code == 201, blocker.json
    body = plan_body(catalogue, patient["id"], monday)
    del body["patient_id"]  # the patient previews their own plan

    preview = api.client.post("/plans/preview", headers=headers, json=body)

    assert preview.status_code == 200, preview.json
    assert preview.json["bookable"] is False
    sessions = preview.json["sessions"]
    assert [s["index"] for s in sessions] == [0, 1, 2, 3]
    assert [s["status"] for s in sessions] == ["free", "free", "taken", "free"]
    days = [(monday + timedelta(weeks=n)).isoformat() for n in range(4)]
    assert [s["local_date"] for s in sessions] == days
    free = sessions[0]
    assert datetime.fromisoformat(free["local_starts_at"]).strftime("%H:%M") == "10:00"
    assert free["room_id"] == room.json["id"]
    assert free["practitioner_id"] == catalogue.ims_practitioner_id
    assert free["alternatives"] == []
    clash = sessions[2]
    assert clash["starts_at"] == taken.astimezone(UTC).isoformat()
    assert clash["room_id"] is None
    nearest = clash["alternatives"][0]
    assert nearest["kind"] == "same_practitioner"
    assert datetime.fromisoformat(nearest["local_starts_at"]).strftime("%H:%M") == "09:30"
    # Nothing was booked or announced.
    assert live_appointments(container, patient["id"], catalogue.ims30_id) == 0
    assert events_of(container, "scheduling.plan.created") == []

    # The alternative, sent back as an override, makes the plan bookable; booking it then succeeds.
    override = {"index": 2, "starts_at": nearest["starts_at"]}
    again = api.client.post("/plans/preview", headers=headers, json=body | {"overrides": [override]})
    assert again.json["bookable"] is True
    assert again.json["sessions"][2]["starts_at"] == nearest["starts_at"]
    booked = api.client.post("/plans", headers=headers, json=body | {"overrides": [override]})
    assert booked.status_code == 201, booked.json


def test_a_preview_across_the_dst_change_keeps_the_local_time(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    patient, _ = api.register_patient("dst-preview@example.test")
    clear_for_ims(api, admin, catalogue, clock, patient["id"])
    body = plan_body(catalogue, patient["id"], datetime(2027, 10, 25).date())
    preview = api.client.post("/plans/preview", headers=admin, json=body)
    assert preview.status_code == 200, preview.json
    starts = [datetime.fromisoformat(s["local_starts_at"]) for s in preview.json["sessions"]]
    assert [s.strftime("%H:%M") for s in starts] == ["10:00"] * 4
    assert [s.utcoffset() for s in starts] == [timedelta(hours=-7)] * 2 + [timedelta(hours=-8)] * 2


def test_a_patient_not_cleared_gets_the_same_refusal_from_a_preview(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("not-yet@example.test")
    body = plan_body(catalogue, "", next_monday(clock))
    del body["patient_id"]
    response = api.client.post("/plans/preview", headers=headers, json=body)
    assert response.status_code == 422
    assert response.json["invalid-params"][0]["name"] == "treatment_type_id"


def test_a_patient_reads_their_own_ims_clearance(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    patient, headers = api.register_patient("clearance@example.test")
    _, stranger = api.register_patient("stranger@example.test")
    url = f"/clinics/{catalogue.clinic_id}/ims-clearance"

    before = api.client.get(url, headers=headers)
    assert before.status_code == 200
    assert before.json == {
        "clinic_id": catalogue.clinic_id,
        "patient_id": patient["id"],
        "cleared": False,
        "assessed": False,
        "suitable": None,
        "consent_recorded": None,
        "recorded_at": None,
    }
    clear_for_ims(api, admin, catalogue, clock, patient["id"])
    after = api.client.get(url, headers=headers).json
    assert (after["cleared"], after["assessed"], after["suitable"], after["consent_recorded"]) == (
        True,
        True,
        True,
        True,
    )
    # Another patient cannot read it; staff name the patient.
    snooping = api.client.get(url, headers=stranger, query_string={"patient_id": patient["id"]})
    assert snooping.status_code == 404
    assert api.client.get(url, headers=admin, query_string={"patient_id": patient["id"]}).json["cleared"]
    assert api.client.get(url, headers=admin).status_code == 422


def test_the_preview_and_clearance_are_in_the_openapi_document(api: Api) -> None:
    spec = api.client.get("/openapi.json").json
    preview = spec["paths"]["/plans/preview"]["post"]
    assert preview["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "CreatePlanRequest"
    )
    assert preview["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PlanPreview"
    )
    assert "get" in spec["paths"]["/clinics/{clinic_id}/ims-clearance"]
