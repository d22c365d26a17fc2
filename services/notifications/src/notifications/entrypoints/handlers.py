"""Scheduling's events, each translated into one command for one service function.

Handlers run inside the consumer's unit of work, after its inbox row was written: whatever they record
commits with that row or not at all. They never send anything; the dispatcher does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from clinic_shared.events import Envelope, EventContractError
from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.topology import Subscription
from notifications.domain.model import AppointmentFacts, DeliveryKind
from notifications.service_layer import services
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

CONSUMER = "notifications"

Handler = Callable[[NotificationsUnitOfWork, Envelope], None]


def update_contact(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    data = event.data
    services.upsert_contact(
        uow,
        services.UpsertContact(
            patient_id=data["patient_id"],
            first_name=data["first_name"],
            email=data["email"],
            phone=data["phone"],
            language=data["language"],
            as_of=event.occurred_at,
        ),
    )


def update_clinic(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    data = event.data
    services.upsert_clinic(
        uow,
        services.UpsertClinic(
            clinic_id=data["clinic_id"],
            name=data["name"],
            timezone=data["timezone"],
            address=data["address"],
            phone=data["phone"],
            email=data["email"],
            as_of=event.occurred_at,
        ),
    )


def update_practitioner(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    data = event.data
    services.upsert_practitioner(
        uow,
        services.UpsertPractitioner(
            practitioner_id=data["practitioner_id"],
            display_name=data["display_name"],
            as_of=event.occurred_at,
        ),
    )


def update_treatment_type(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    data = event.data
    services.upsert_treatment_type(
        uow,
        services.UpsertTreatmentType(
            treatment_type_id=data["treatment_type_id"], name=data["name"], as_of=event.occurred_at
        ),
    )


def record_booking_confirmation(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    _record(uow, event, DeliveryKind.BOOKING_CONFIRMATION)


def record_cancellation(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    _record(uow, event, DeliveryKind.CANCELLATION)


def _record(uow: NotificationsUnitOfWork, event: Envelope, kind: DeliveryKind) -> None:
    data = event.data
    try:
        facts = AppointmentFacts(
            appointment_id=data["appointment_id"],
            patient_id=data["patient_id"],
            clinic_id=data["clinic_id"],
            practitioner_id=data["practitioner_id"],
            treatment_type_id=data["treatment_type_id"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            sequence=data["sequence"],
        )
    except ValueError as exc:
        # Valid JSON, impossible facts: retrying cannot help, so the consumer dead-letters it at once.
        raise EventContractError(f"{event.type}: {exc}") from None
    services.record_appointment_notices(
        uow, services.RecordAppointmentNotices(kind=kind, facts=facts, event_id=event.id)
    )


HANDLERS: Mapping[str, Handler] = {
    "scheduling.patient.registered": update_contact,
    "scheduling.patient.updated": update_contact,
    "scheduling.clinic.changed": update_clinic,
    "scheduling.practitioner.changed": update_practitioner,
    "scheduling.treatment_type.changed": update_treatment_type,
    "scheduling.appointment.booked": record_booking_confirmation,
    "scheduling.appointment.cancelled": record_cancellation,
}

SUBSCRIPTION = Subscription(CONSUMER, {exchange_for("scheduling"): sorted(HANDLERS)})
