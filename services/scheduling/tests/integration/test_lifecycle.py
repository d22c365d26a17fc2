"""Appointment lifecycle through the API: reschedule, arrive, complete, no-show, waived fees, IMS gating."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue
from .test_api import booking, outbox_events


def events_of(container: Container, event_type: str) -> list[Any]:
    return [e for e in outbox_events(container) if e.type == event_type]


def practitioner_login(
    api: Api, admin: dict[str, str], catalogue: Catalogue, practitioner_id: str
) -> dict[str, str]:
    email = f"pt-{practitioner_id[:8]}@clinic.test"
    body = {
        "email": email,
        "password": "practitioner pass",
        "roles": ["practitioner"],
        "clinic_id": catalogue.clinic_id,
        "practitioner_id": practitioner_id,
    }
    assert api.client.post("/staff-accounts", headers=admin, json=body).status_code == 201
    return api.token(email, "practitioner pass")


def test_rescheduling_moves_the_time_bumps_the_sequence_and_is_published(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, headers = api.register_patient("move@example.test")
    first = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock)).json
    other = api.client.post(
        "/appointments", headers=headers, json=booking(catalogue, clock, hours_ahead=72)
    ).json
    new_start = clock.now() + timedelta(hours=50)
    moved = api.client.post(
        f"/appointments/{first['id']}/reschedule", headers=headers, json={"starts_at": new_start.isoformat()}
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["sequence"] == 1
    assert moved.json["starts_at"] == new_start.isoformat()
    [event] = events_of(container, "scheduling.appointment.rescheduled")
    assert event.data["previous_starts_at"].isoformat() == first["starts_at"]
    assert event.data["starts_at"] == new_start
    onto_other = api.client.post(
        f"/appointments/{first['id']}/reschedule", headers=headers, json={"starts_at": other["starts_at"]}
    )
    assert onto_other.status_code == 409
    # Moving within its own time (overlapping where it was) is fine: it no longer holds the old time.
    nudged = api.client.post(
        f"/appointments/{first['id']}/reschedule",
        headers=headers,
        json={"starts_at": (new_start + timedelta(minutes=15)).isoformat()},
    )
    assert nudged.status_code == 200
    assert nudged.json["sequence"] == 2


def test_rescheduling_to_an_unavailable_time_or_practitioner_is_refused(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("stay@example.test")
    appointment = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock)).json
    starts = clock.now() + timedelta(hours=60)
    api.client.post(
        f"/clinics/{catalogue.clinic_id}/practitioners/{catalogue.assessor_id}/time-off",
        headers=admin,
        json={"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat()},
    )
    away = api.client.post(
        f"/appointments/{appointment['id']}/reschedule",
        headers=headers,
        json={"starts_at": starts.isoformat(), "practitioner_id": catalogue.assessor_id},
    )
    assert away.status_code == 422
    api.client.post(f"/appointments/{appointment['id']}/cancel", headers=headers, json={})
    cancelled = api.client.post(
        f"/appointments/{appointment['id']}/reschedule",
        headers=headers,
        json={"starts_at": starts.isoformat()},
    )
    assert cancelled.status_code == 422
    assert cancelled.json["invalid-params"][0]["name"] == "status"


def test_staff_mark_arrival_and_completion_and_each_is_published(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, patient = api.register_patient("visit@example.test")
    appointment = api.client.post(
        "/appointments", headers=patient, json=booking(catalogue, clock, hours_ahead=3)
    ).json
    assert api.client.post(f"/appointments/{appointment['id']}/arrive", headers=patient).status_code == 403
    clock.advance(timedelta(hours=3))
    arrived = api.client.post(f"/appointments/{appointment['id']}/arrive", headers=admin)
    assert arrived.json["status"] == "arrived"
    completed = api.client.post(f"/appointments/{appointment['id']}/complete", headers=admin)
    assert completed.status_code == 200
    assert completed.json["status"] == "fulfilled"
    assert completed.json["sequence"] == 2
    assert len(events_of(container, "scheduling.appointment.arrived")) == 1
    assert events_of(container, "scheduling.appointment.completed")[0].data["completed_at"] == clock.now()
    assert (
        api.client.post(f"/appointments/{appointment['id']}/cancel", headers=admin, json={}).status_code
        == 422
    )


def test_a_no_show_is_marked_after_the_start_and_staff_may_waive_the_fee(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, patient = api.register_patient("absent@example.test")
    appointment = api.client.post(
        "/appointments", headers=patient, json=booking(catalogue, clock, hours_ahead=3)
    ).json
    early = api.client.post(f"/appointments/{appointment['id']}/no-show", headers=admin, json={})
    assert early.status_code == 422
    clock.advance(timedelta(hours=3, minutes=20))
    marked = api.client.post(
        f"/appointments/{appointment['id']}/no-show", headers=admin, json={"waive_fee": True}
    )
    assert marked.json["status"] == "noshow"
    [event] = events_of(container, "scheduling.appointment.no_show")
    assert event.data["fee_waived"] is True


def test_a_late_cancellation_fee_can_be_waived_by_staff_only(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, patient = api.register_patient("waive@example.test")
    mine = api.client.post(
        "/appointments", headers=patient, json=booking(catalogue, clock, hours_ahead=5)
    ).json
    refused = api.client.post(f"/appointments/{mine['id']}/cancel", headers=patient, json={"waive_fee": True})
    assert refused.status_code == 403
    waived = api.client.post(f"/appointments/{mine['id']}/cancel", headers=admin, json={"waive_fee": True})
    assert waived.json["late_cancellation"] is True
    assert waived.json["fee_waived"] is True
    [event] = events_of(container, "scheduling.appointment.cancelled")
    assert event.data["late"] is True
    assert event.data["fee_waived"] is True
    assert event.data["with_plan"] is False


def test_ims_needs_a_completed_assessment_that_found_the_patient_suitable_with_consent(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    _, patient = api.register_patient("ims@example.test")
    assessor = practitioner_login(api, admin, catalogue, catalogue.assessor_id)
    ims = booking(catalogue, clock, hours_ahead=120, treatment_type_id=catalogue.ims30_id)
    gated = api.client.post("/appointments", headers=patient, json=ims)
    assert gated.status_code == 422
    assert gated.json["invalid-params"][0]["name"] == "treatment_type_id"
    assert "assessment" in gated.json["detail"]

    assessment = api.client.post(
        "/appointments",
        headers=patient,
        json=booking(catalogue, clock, hours_ahead=3, practitioner_id=catalogue.assessor_id),
    ).json
    path = f"/appointments/{assessment['id']}/suitability"
    not_done = api.client.post(path, headers=assessor, json={"suitable": True, "consent_recorded": True})
    assert not_done.status_code == 422
    clock.advance(timedelta(hours=4))
    assert api.client.post(f"/appointments/{assessment['id']}/complete", headers=assessor).status_code == 200
    assert (
        api.client.post(path, headers=patient, json={"suitable": True, "consent_recorded": True}).status_code
        == 403
    )
    no_consent = api.client.post(path, headers=assessor, json={"suitable": True, "consent_recorded": False})
    assert no_consent.status_code == 422
    assert no_consent.json["invalid-params"][0]["name"] == "consent_recorded"
    recorded = api.client.post(path, headers=assessor, json={"suitable": True, "consent_recorded": True})
    assert recorded.status_code == 201
    assert (
        api.client.post(path, headers=assessor, json={"suitable": True, "consent_recorded": True}).status_code
        == 409
    )
    assert api.client.post("/appointments", headers=patient, json=ims).status_code == 201


def test_staff_cannot_mark_arrival_before_the_appointments_day(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    _, patient = api.register_patient("too-early@example.test")
    appointment = api.client.post(
        "/appointments", headers=patient, json=booking(catalogue, clock, hours_ahead=72)
    ).json
    path = f"/appointments/{appointment['id']}"
    refused = api.client.post(f"{path}/arrive", headers=admin)
    assert refused.status_code == 422, refused.json
    assert refused.json["invalid-params"][0]["name"] == "status"
    assert api.client.get(path, headers=admin).json["status"] == "booked"
    # At its start time: on its day whatever the hour (the test clock starts at the real now, so "ten minutes
    # before" was the evening before when the appointment fell just after midnight in the clinic's zone).
    clock.set(datetime.fromisoformat(appointment["starts_at"]))
    arrived = api.client.post(f"{path}/arrive", headers=admin)
    assert arrived.status_code == 200, arrived.json
    assert arrived.json["status"] == "arrived"
