"""Scheduling's events, each turned into one billing command and handed to one service function.

The consumer calls a handler inside a unit of work that already holds the event's inbox row, so the
effect and the record that the event was applied commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from billing.service_layer import charges, reference_copies
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.events import Envelope, command_from
from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.topology import Subscription

CONSUMER = "billing"

log = logging.getLogger(__name__)
C = TypeVar("C")


def clinic_changed(uow: BillingUnitOfWork, event: Envelope) -> None:
    reference_copies.sync_clinic(uow, _synced(event, reference_copies.SyncClinic))


def practitioner_changed(uow: BillingUnitOfWork, event: Envelope) -> None:
    reference_copies.sync_practitioner(uow, _synced(event, reference_copies.SyncPractitioner))


def treatment_type_changed(uow: BillingUnitOfWork, event: Envelope) -> None:
    reference_copies.sync_treatment_type(uow, _synced(event, reference_copies.SyncTreatmentType))


def patient_changed(uow: BillingUnitOfWork, event: Envelope) -> None:
    """Registered and updated carry the same contact facts."""
    reference_copies.sync_patient(uow, _synced(event, reference_copies.SyncPatient))


def _synced(event: Envelope, command: type[C]) -> C:
    """A reference copy's sync: the event's facts, as of when it happened (older news is ignored)."""
    return command_from(event, command, as_of=event.occurred_at)


def appointment_booked(uow: BillingUnitOfWork, event: Envelope) -> None:
    charge = charges.plan_charge(uow, command_from(event, charges.PlanCharge))
    if charge.needs_price:
        log.warning(
            "billing: no price on file for treatment type %s at clinic %s on %s; charge %s needs a price",
            charge.treatment_type_id,
            charge.clinic_id,
            charge.service_date,
            charge.id,
        )


def appointment_cancelled(uow: BillingUnitOfWork, event: Envelope) -> None:
    charges.abort_charge(uow, command_from(event, charges.AbortCharge))


def appointment_completed(uow: BillingUnitOfWork, event: Envelope) -> None:
    charges.complete_charge(uow, command_from(event, charges.CompleteCharge))


def appointment_no_show(uow: BillingUnitOfWork, event: Envelope) -> None:
    charges.record_no_show(uow, command_from(event, charges.RecordNoShow))


def appointment_rescheduled(uow: BillingUnitOfWork, event: Envelope) -> None:
    charges.reschedule_charge(uow, command_from(event, charges.RescheduleCharge))


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
