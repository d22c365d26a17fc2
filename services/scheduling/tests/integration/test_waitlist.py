"""The waitlist through the API on SQLite and PostgreSQL: offers on cancellation, holds, claims, expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container
from scheduling.service_layer import waitlist

from ..conftest import Api, Catalogue
from .test_api import booking
from .test_lifecycle import events_of


def join(
    api: Api,
    headers: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    *,
    hours: int = 24,
    **extra: Any,
) -> Any:
    """Join for any start from ``hours`` to ``hours + 48`` hours ahead."""
    body = {
        "clinic_id": catalogue.clinic_id,
        "treatment_type_id": catalogue.assessment_id,
        "not_before": (clock.now() + timedelta(hours=hours)).isoformat(),
        "not_after": (clock.now() + timedelta(hours=hours + 48)).isoformat(),
    } | extra
    response = api.client.post("/waitlist", headers=headers, json=body)
    assert response.status_code == 201, response.json
    clock.advance(timedelta(seconds=1))  # first come, first served: keep the arrivals apart
    return response.json


def test_a_cancellation_offers_the_time_to_the_first_waiting_patient_who_can_claim_it(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, holder = api.register_patient("holder@example.test")
    first, first_headers = api.register_patient("first@example.test")
    _, second_headers = api.register_patient("second@example.test")
    _, third_party = api.register_patient("third@example.test")
    taken = api.client.post("/appointments", headers=holder, json=booking(catalogue, clock)).json
    entry = join(api, first_headers, catalogue, clock)
    later_entry = join(api, second_headers, catalogue, clock)

    api.client.post(f"/appointments/{taken['id']}/cancel", headers=holder, json={})
    [offer] = events_of(container, "scheduling.waitlist.offered")
    assert str(offer.data["waitlist_entry_id"]) == entry["id"]
    assert str(offer.data["patient_id"]) == first["id"]
    assert offer.data["starts_at"].isoformat() == taken["starts_at"]
    assert offer.data["expires_at"] == clock.now() + timedelta(minutes=30)
    # While held, nobody else can take the time.
    assert (
        api.client.post("/appointments", headers=third_party, json=booking(catalogue, clock)).status_code
        == 409
    )
    assert api.client.post(f"/waitlist/{later_entry['id']}/claim", headers=second_headers).status_code == 422

    claimed = api.client.post(f"/waitlist/{entry['id']}/claim", headers=first_headers)
    assert claimed.status_code == 201, claimed.json
    assert claimed.json["status"] == "booked"
    assert claimed.json["starts_at"] == taken["starts_at"]
    booked = [
        e
        for e in events_of(container, "scheduling.appointment.booked")
        if str(e.data["appointment_id"]) == claimed.json["id"]
    ]
    assert len(booked) == 1
    mine = api.client.get("/waitlist", headers=first_headers).json
    assert [e["status"] for e in mine] == ["booked"]


def test_an_expired_hold_is_released_and_offered_to_the_next_patient(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, holder = api.register_patient("holder2@example.test")
    _, slow = api.register_patient("slow@example.test")
    _, next_in_line = api.register_patient("next@example.test")
    taken = api.client.post("/appointments", headers=holder, json=booking(catalogue, clock)).json
    slow_entry = join(api, slow, catalogue, clock)
    next_entry = join(api, next_in_line, catalogue, clock)
    api.client.post(f"/appointments/{taken['id']}/cancel", headers=holder, json={})

    clock.advance(timedelta(minutes=31))
    refused = api.client.post(f"/waitlist/{slow_entry['id']}/claim", headers=slow)
    assert refused.status_code == 422
    assert "expired" in refused.json["detail"]
    with container.uow() as uow:
        assert waitlist.expire_offers(uow) == 1
        uow.commit()
    offers = events_of(container, "scheduling.waitlist.offered")
    assert [str(o.data["waitlist_entry_id"]) for o in offers] == [slow_entry["id"], next_entry["id"]]
    assert api.client.post(f"/waitlist/{next_entry['id']}/claim", headers=next_in_line).status_code == 201


def test_a_waitlist_entry_needs_a_sensible_window_and_ims_clearance(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("window@example.test")
    body = {
        "clinic_id": catalogue.clinic_id,
        "treatment_type_id": catalogue.assessment_id,
        "not_before": (clock.now() + timedelta(hours=72)).isoformat(),
        "not_after": (clock.now() + timedelta(hours=24)).isoformat(),
    }
    backwards = api.client.post("/waitlist", headers=headers, json=body)
    assert backwards.status_code == 422
    assert backwards.json["invalid-params"][0]["name"] == "not_after"
    ims = body | {
        "treatment_type_id": catalogue.ims30_id,
        "not_before": body["not_after"],
        "not_after": body["not_before"],
    }
    assert api.client.post("/waitlist", headers=headers, json=ims).status_code == 422


def test_claiming_an_earlier_time_moves_the_named_appointment_and_offers_its_old_time(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container, admin: dict[str, str]
) -> None:
    _, holder = api.register_patient("early-holder@example.test")
    _, mover_headers = api.register_patient("mover@example.test")
    _, next_headers = api.register_patient("after-mover@example.test")
    taken = api.client.post("/appointments", headers=holder, json=booking(catalogue, clock)).json
    later = api.client.post(
        "/appointments", headers=mover_headers, json=booking(catalogue, clock, hours_ahead=120)
    ).json
    entry = join(api, mover_headers, catalogue, clock, appointment_id=later["id"])
    assert entry["appointment_id"] == later["id"]
    next_entry = join(api, next_headers, catalogue, clock, hours=96)

    api.client.post(f"/appointments/{taken['id']}/cancel", headers=holder, json={})
    [offer] = events_of(container, "scheduling.waitlist.offered")
    assert str(offer.data["waitlist_entry_id"]) == entry["id"]
    claimed = api.client.post(f"/waitlist/{entry['id']}/claim", headers=mover_headers)

    assert claimed.status_code == 201, claimed.json
    assert claimed.json["id"] == later["id"]
    assert claimed.json["starts_at"] == taken["starts_at"]
    assert claimed.json["status"] == "booked"
    assert claimed.json["sequence"] == later["sequence"] + 1
    [moved] = events_of(container, "scheduling.appointment.rescheduled")
    assert str(moved.data["appointment_id"]) == later["id"]
    assert moved.data["previous_starts_at"].isoformat() == later["starts_at"]
    booked_ids = {
        str(e.data["appointment_id"]) for e in events_of(container, "scheduling.appointment.booked")
    }
    assert str(offer.data["offer_id"]) not in booked_ids
    hold = api.client.get(f"/appointments/{offer.data['offer_id']}", headers=admin).json
    assert hold["status"] == "cancelled"
    mine = api.client.get("/appointments", headers=mover_headers).json
    assert [(a["id"], a["status"]) for a in mine if a["status"] != "cancelled"] == [(later["id"], "booked")]
    # The old, later time is free again and goes to the next patient waiting for it.
    [_, second_offer] = events_of(container, "scheduling.waitlist.offered")
    assert str(second_offer.data["waitlist_entry_id"]) == next_entry["id"]
    assert second_offer.data["starts_at"].isoformat() == later["starts_at"]
    assert api.client.post(f"/waitlist/{next_entry['id']}/claim", headers=next_headers).status_code == 201


def test_the_appointment_to_move_must_be_the_patients_own_booked_and_later_than_the_window(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("picky@example.test")
    _, stranger = api.register_patient("stranger@example.test")
    inside = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock)).json
    later = api.client.post(
        "/appointments", headers=headers, json=booking(catalogue, clock, hours_ahead=120)
    ).json
    theirs = api.client.post(
        "/appointments", headers=stranger, json=booking(catalogue, clock, hours_ahead=144)
    ).json

    def refused(appointment_id: str) -> tuple[int, str]:
        body = {
            "clinic_id": catalogue.clinic_id,
            "treatment_type_id": catalogue.assessment_id,
            "not_before": (clock.now() + timedelta(hours=24)).isoformat(),
            "not_after": (clock.now() + timedelta(hours=72)).isoformat(),
            "appointment_id": appointment_id,
        }
        response = api.client.post("/waitlist", headers=headers, json=body)
        return response.status_code, response.json["invalid-params"][0]["name"]

    assert refused(theirs["id"]) == (404, "appointment_id")
    assert refused(inside["id"]) == (422, "appointment_id")
    api.client.post(f"/appointments/{later['id']}/cancel", headers=headers, json={})
    assert refused(later["id"]) == (422, "appointment_id")


def test_an_entry_whose_appointment_was_cancelled_is_passed_over(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, holder = api.register_patient("pass-holder@example.test")
    _, gone_headers = api.register_patient("changed-mind@example.test")
    _, plain_headers = api.register_patient("plain@example.test")
    taken = api.client.post("/appointments", headers=holder, json=booking(catalogue, clock)).json
    later = api.client.post(
        "/appointments", headers=gone_headers, json=booking(catalogue, clock, hours_ahead=120)
    ).json
    join(api, gone_headers, catalogue, clock, appointment_id=later["id"])
    plain = join(api, plain_headers, catalogue, clock)
    api.client.post(f"/appointments/{later['id']}/cancel", headers=gone_headers, json={})

    api.client.post(f"/appointments/{taken['id']}/cancel", headers=holder, json={})
    [offer] = events_of(container, "scheduling.waitlist.offered")
    assert str(offer.data["waitlist_entry_id"]) == plain["id"]
