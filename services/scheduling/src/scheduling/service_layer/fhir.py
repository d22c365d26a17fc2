"""FHIR R4 views: an appointment as an ``Appointment`` resource, free slots as a ``Bundle`` of ``Slot``.

Plain JSON-ready dictionaries; the tests validate them with the ``fhir.resources`` package.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clinic_shared.tokens import Principal
from scheduling.domain.errors import NotFound
from scheduling.domain.model import Appointment, AppointmentStatus, TreatmentType
from scheduling.service_layer.appointments import may_see_appointment
from scheduling.service_layer.availability import SearchSlots, Slot, search_slots
from scheduling.service_layer.ports import UnitOfWork

TREATMENT_SYSTEM = "urn:ims-clinic:treatment-type"


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _service_type(treatment: TreatmentType) -> list[dict[str, Any]]:
    return [{"coding": [{"system": TREATMENT_SYSTEM, "code": treatment.code, "display": treatment.name}]}]


def appointment_resource(uow: UnitOfWork, actor: Principal, appointment_id: uuid.UUID) -> dict[str, Any]:
    appointment = uow.repo.get(Appointment, appointment_id)
    if appointment is None or not may_see_appointment(actor, appointment):
        raise NotFound("appointment not found")
    treatment = uow.repo.get(TreatmentType, appointment.treatment_type_id)
    if treatment is None:
        raise NotFound("appointment not found")
    participant_status = "tentative" if appointment.status is AppointmentStatus.PROPOSED else "accepted"
    participants: list[dict[str, Any]] = [
        {"actor": {"reference": f"Patient/{appointment.patient_id}"}, "status": participant_status},
        {"actor": {"reference": f"Practitioner/{appointment.practitioner_id}"}, "status": "accepted"},
    ]
    if appointment.room_id is not None:
        participants.append({"actor": {"reference": f"Location/{appointment.room_id}"}, "status": "accepted"})
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.id),
        "meta": {"versionId": str(appointment.sequence)},
        "status": str(appointment.status),
        "serviceType": _service_type(treatment),
        "start": _instant(appointment.starts_at),
        "end": _instant(appointment.ends_at),
        "minutesDuration": treatment.duration_minutes,
        "created": _instant(appointment.booked_at),
        "participant": participants,
    }
    if appointment.status is AppointmentStatus.CANCELLED:
        resource["cancelationReason"] = {
            "text": "late cancellation" if appointment.late_cancellation else "cancelled"
        }
    if appointment.plan_id is not None:
        resource["basedOn"] = [{"reference": f"CarePlan/{appointment.plan_id}"}]
    return resource


def slot_bundle(
    uow: UnitOfWork, actor: Principal, cmd: SearchSlots, offset: int, count: int
) -> dict[str, Any]:
    """Free slots as a FHIR searchset Bundle (one page of ``count`` from ``offset``; ``total`` is all)."""
    slots = search_slots(uow, actor, cmd)  # checks the clinic first
    treatment = uow.repo.get(TreatmentType, cmd.treatment_type_id)
    page: Sequence[Slot] = slots[offset : offset + count]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(slots),
        "entry": [
            {
                "resource": {
                    "resourceType": "Slot",
                    "id": f"{s.practitioner_id}-{s.starts_at.astimezone(UTC):%Y%m%dT%H%M%SZ}",
                    "schedule": {"reference": f"Schedule/{s.practitioner_id}"},
                    "status": "free",
                    "start": _instant(s.starts_at),
                    "end": _instant(s.ends_at),
                    "serviceType": _service_type(treatment) if treatment else [],
                },
                "search": {"mode": "match"},
            }
            for s in page
        ],
    }
