"""FHIR exports validate with the fhir.resources package (R4B models: Appointment and Slot as in R4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.slot import Slot as FhirSlot

from clinic_shared.testing.clock import ManualClock

from ..conftest import Api, Catalogue
from .test_api import booking


def test_an_appointment_exports_as_a_valid_fhir_appointment_through_its_lifecycle(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("fhir@example.test")
    appointment = api.client.post("/appointments", headers=headers, json=booking(catalogue, clock)).json
    response = api.client.get(f"/fhir/Appointment/{appointment['id']}", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    booked = FhirAppointment.model_validate(json.loads(response.data))
    assert booked.status == "booked"
    assert {p.actor.reference for p in booked.participant} == {
        f"Patient/{appointment['patient_id']}",
        f"Practitioner/{catalogue.ims_practitioner_id}",
    }
    api.client.post(f"/appointments/{appointment['id']}/cancel", headers=headers, json={})
    cancelled = FhirAppointment.model_validate(
        json.loads(api.client.get(f"/fhir/Appointment/{appointment['id']}", headers=admin).data)
    )
    assert cancelled.status == "cancelled"
    assert cancelled.meta.versionId == "1"


def test_free_slots_export_as_a_valid_fhir_bundle_of_slots(
    api: Api, catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("slots-fhir@example.test")
    day = (clock.now() + timedelta(days=3)).astimezone(ZoneInfo("America/Vancouver")).date()
    query = {
        "clinic_id": catalogue.clinic_id,
        "treatment_type_id": catalogue.ims30_id,
        "from": day.isoformat(),
        "to": day.isoformat(),
        "_count": "5",
    }
    response = api.client.get("/fhir/Slot", headers=headers, query_string=query)
    assert response.status_code == 200, response.data
    bundle = Bundle.model_validate(json.loads(response.data))
    assert bundle.type == "searchset"
    zone = ZoneInfo("America/Vancouver")
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    # No hours set: a 30-minute session may start every 15 minutes around the clock.
    assert bundle.total == (next_midnight.astimezone(UTC) - midnight.astimezone(UTC)) // timedelta(minutes=15)
    slots = [FhirSlot.model_validate(entry.resource.model_dump()) for entry in bundle.entry]
    assert len(slots) == 5
    assert {s.status for s in slots} == {"free"}
    assert slots[0].schedule.reference == f"Schedule/{catalogue.ims_practitioner_id}"
