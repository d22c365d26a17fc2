"""What the patient portal reads: when free cancellation ends, and a waitlist offer found by its link."""

from __future__ import annotations

from datetime import datetime, timedelta

from clinic_shared.testing.clock import ManualClock
from scheduling.bootstrap import Container
from scheduling.service_layer import waitlist

from ..conftest import Api, Catalogue
from .test_api import booking
from .test_lifecycle import events_of
from .test_waitlist import join


def test_an_appointment_says_until_when_cancelling_it_is_free(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("window-end@example.test")
    created = api.client.post(
        "/appointments", headers=headers, json=booking(catalogue, clock, hours_ahead=72)
    )
    assert created.status_code == 201, created.json

    starts_at = datetime.fromisoformat(created.json["starts_at"])
    free_until = datetime.fromisoformat(created.json["free_cancellation_until"])
    assert starts_at - free_until == timedelta(hours=24)  # the treatment type's late_cancel_hours (default)
    listed = api.client.get("/appointments", headers=headers).json
    assert listed[0]["free_cancellation_until"] == created.json["free_cancellation_until"]

    clock.advance(starts_at - clock.now() - timedelta(hours=24))  # exactly at the end: still free
    on_time = api.client.post(f"/appointments/{created.json['id']}/cancel", headers=headers, json={})
    assert on_time.json["late_cancellation"] is False


def test_an_offer_is_found_by_its_id_by_its_patient_only_and_stays_findable_once_lapsed(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container, admin: dict[str, str]
) -> None:
    _, holder = api.register_patient("offer-holder@example.test")
    _, waiting = api.register_patient("offer-waiting@example.test")
    _, stranger = api.register_patient("offer-stranger@example.test")
    taken = api.client.post("/appointments", headers=holder, json=booking(catalogue, clock)).json
    entry = join(api, waiting, catalogue, clock)
    api.client.post(f"/appointments/{taken['id']}/cancel", headers=holder, json={})
    [offer] = events_of(container, "scheduling.waitlist.offered")
    offer_id = offer.data["offer_id"]

    found = api.client.get(f"/waitlist/offers/{offer_id}", headers=waiting)
    assert found.status_code == 200, found.json
    assert found.json["id"] == entry["id"]
    assert found.json["status"] == "offered"
    assert found.json["offer_appointment_id"] == str(offer_id)
    assert api.client.get(f"/waitlist/offers/{offer_id}", headers=admin).status_code == 200
    assert api.client.get(f"/waitlist/offers/{offer_id}", headers=stranger).status_code == 404
    assert api.client.get(f"/waitlist/offers/{entry['id']}", headers=waiting).status_code == 404

    clock.advance(timedelta(minutes=31))
    lapsed = api.client.get(f"/waitlist/offers/{offer_id}", headers=waiting)
    assert lapsed.status_code == 200
    assert lapsed.json["status"] == "offered"  # the sweep has not run; the expiry says it has lapsed
    assert datetime.fromisoformat(lapsed.json["offer_expires_at"]) < clock.now()
    with container.uow() as uow:
        waitlist.expire_offers(uow)
        uow.commit()
    assert api.client.get(f"/waitlist/offers/{offer_id}", headers=waiting).json["status"] == "expired"


def test_the_openapi_document_lists_the_offer_lookup(api: Api) -> None:
    spec = api.client.get("/openapi.json").json
    assert "/waitlist/offers/{offer_id}" in spec["paths"]
    appointment = spec["components"]["schemas"]["Appointment"]["properties"]
    assert "free_cancellation_until" in appointment
