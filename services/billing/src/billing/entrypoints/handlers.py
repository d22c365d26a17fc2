"""Scheduling's events, each turned into one billing command and handed to one service function.

The consumer calls a handler inside a unit of work that already holds the event's inbox row, so the
effect and the record that the event was applied commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from billing.service_layer import charges, reference_copies
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.events import Envelope
from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.topology import Subscription

CONSUMER = "billing"

log = logging.getLogger(__name__)


def clinic_changed(uow: BillingUnitOfWork, event: Envelope) -> None:
    d = event.data
    reference_copies.sync_clinic(
        uow,
        reference_copies.SyncClinic(
            clinic_id=d["clinic_id"],
            code=d["code"],
            name=d["name"],
            timezone=d["timezone"],
            address=d["address"],
            phone=d["phone"],
            email=d["email"],
            currency=d["currency"],
            as_of=event.occurred_at,
        ),
    )


def practitioner_changed(uow: BillingUnitOfWork, event: Envelope) -> None:
    d = event.data
    reference_copies.sync_practitioner(
        uow,
        reference_copies.SyncPractitioner(
            practitioner_id=d["practitioner_id"],
            clinic_id=d["clinic_id"],
            display_name=d["display_name"],
            registration_number=d["registration_number"],
            active=d["active"],
            as_of=event.occurred_at,
        ),
    )


def treatment_type_changed(uow: BillingUnitOfWork, event: Envelope) -> None:
    d = event.data
    reference_copies.sync_treatment_type(
        uow,
        reference_copies.SyncTreatmentType(
            treatment_type_id=d["treatment_type_id"],
            clinic_id=d["clinic_id"],
            code=d["code"],
            name=d["name"],
            kind=d["kind"],
            duration_minutes=d["duration_minutes"],
            active=d["active"],
            as_of=event.occurred_at,
        ),
    )


def patient_changed(uow: BillingUnitOfWork, event: Envelope) -> None:
    """Registered and updated carry the same contact facts."""
    d = event.data
    reference_copies.sync_patient(
        uow,
        reference_copies.SyncPatient(
            patient_id=d["patient_id"],
            first_name=d["first_name"],
            last_name=d["last_name"],
            email=d["email"],
            phone=d["phone"],
            language=d["language"],
            as_of=event.occurred_at,
        ),
    )


def appointment_booked(uow: BillingUnitOfWork, event: Envelope) -> None:
    charge = charges.plan_charge(uow, charges.PlanCharge(**_appointment_facts(event.data)))
    if charge.needs_price:
        log.warning(
            "billing: no price on file for treatment type %s at clinic %s on %s; charge %s needs a price",
            charge.treatment_type_id,
            charge.clinic_id,
            charge.service_date,
            charge.id,
        )


def appointment_cancelled(uow: BillingUnitOfWork, event: Envelope) -> None:
    d = event.data
    charges.abort_charge(
        uow,
        charges.AbortCharge(
            **_appointment_facts(d),
            cancelled_at=d["cancelled_at"],
            late=d["late"],
            fee_waived=d.get("fee_waived", False),
        ),
    )


def appointment_completed(uow: BillingUnitOfWork, event: Envelope) -> None:
    d = event.data
    charges.complete_charge(uow, charges.CompleteCharge(**_appointment_facts(d), plan_id=d.get("plan_id")))


def appointment_no_show(uow: BillingUnitOfWork, event: Envelope) -> None:
    d = event.data
    charges.record_no_show(
        uow,
        charges.RecordNoShow(
            **_appointment_facts(d), marked_at=d["marked_at"], fee_waived=d.get("fee_waived", False)
        ),
    )


def appointment_rescheduled(uow: BillingUnitOfWork, event: Envelope) -> None:
    charges.reschedule_charge(uow, charges.RescheduleCharge(**_appointment_facts(event.data)))


def _appointment_facts(d: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "appointment_id": d["appointment_id"],
        "clinic_id": d["clinic_id"],
        "practitioner_id": d["practitioner_id"],
        "patient_id": d["patient_id"],
        "treatment_type_id": d["treatment_type_id"],
        "starts_at": d["starts_at"],
        "sequence": d["sequence"],
    }


HANDLERS: dict[str, Callable[[BillingUnitOfWork, Envelope], None]] = {
    "scheduling.clinic.changed": clinic_changed,
    "scheduling.practitioner.changed": practitioner_changed,
    "scheduling.treatment_type.changed": treatment_type_changed,
    "scheduling.patient.registered": patient_changed,
    "scheduling.patient.updated": patient_changed,
    "scheduling.appointment.booked": appointment_booked,
    "scheduling.appointment.cancelled": appointment_cancelled,
    "scheduling.appointment.completed": appointment_completed,
    "scheduling.appointment.no_show": appointment_no_show,
    "scheduling.appointment.rescheduled": appointment_rescheduled,
}

SUBSCRIPTION = Subscription(CONSUMER, {exchange_for("scheduling"): sorted(HANDLERS)})
