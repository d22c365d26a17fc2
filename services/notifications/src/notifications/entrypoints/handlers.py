"""Scheduling's and billing's events, each translated into one command for one service function.

Handlers run inside the consumer's unit of work, after its inbox row was written: whatever they record
commits with that row or not at all. The consumer commits (clinic_shared.messaging.consumer); neither the
handlers nor the use cases they call commit or roll back, and a lost race to a unique key is undone in a
savepoint only (``uow.conflicts_as``). They never send anything; the dispatcher does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from clinic_shared.events import Envelope, EventContractError, command_from
from clinic_shared.messaging.outbox import exchange_for
from clinic_shared.messaging.topology import Subscription
from notifications.domain.appointments import AppointmentFacts
from notifications.domain.kinds import DeliveryKind
from notifications.service_layer import (
    account_messages,
    appointment_notices,
    plan_messages,
    reference_copies,
    subject_messages,
)
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

CONSUMER = "notifications"

C = TypeVar("C")
Handler = Callable[[NotificationsUnitOfWork, Envelope], None]


def update_contact(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    reference_copies.sync_patient(uow, _synced(event, reference_copies.SyncPatient))


def update_clinic(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    reference_copies.sync_clinic(uow, _synced(event, reference_copies.SyncClinic))


def update_practitioner(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    reference_copies.sync_practitioner(uow, _synced(event, reference_copies.SyncPractitioner))


def update_treatment_type(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    reference_copies.sync_treatment_type(uow, _synced(event, reference_copies.SyncTreatmentType))


def _synced(event: Envelope, command: type[C]) -> C:
    """A reference copy's sync: the event's facts, as of when it happened (older news is ignored)."""
    return command_from(event, command, as_of=event.occurred_at)


def record_booking_confirmation(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    appointment_notices.record_appointment_notices(
        uow,
        appointment_notices.RecordAppointmentNotices(
            kind=DeliveryKind.BOOKING_CONFIRMATION,
            facts=_facts(event),
            event_id=event.id,
            online=event.data["booked_via"] == "online",
        ),
    )


def record_cancellation(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    appointment_notices.record_appointment_notices(
        uow,
        appointment_notices.RecordAppointmentNotices(
            kind=DeliveryKind.CANCELLATION,
            facts=_facts(event),
            event_id=event.id,
            late=event.data["late"],
            with_plan=event.data["with_plan"],
            plan_shortened=event.data["plan_shortened"],
        ),
    )


def record_reschedule(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    _record(uow, event, DeliveryKind.RESCHEDULE)


def record_confirmation(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    appointment_notices.record_confirmation(
        uow,
        appointment_notices.RecordConfirmation(facts=_facts(event), confirmed_at=event.data["confirmed_at"]),
    )


def record_waitlist_offer(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    data = event.data
    try:
        facts = AppointmentFacts(
            appointment_id=data["offer_id"],
            patient_id=data["patient_id"],
            clinic_id=data["clinic_id"],
            practitioner_id=data["practitioner_id"],
            treatment_type_id=data["treatment_type_id"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            sequence=0,
        )
    except ValueError as exc:
        raise EventContractError(f"{event.type}: {exc}") from None
    appointment_notices.record_waitlist_offer(
        uow,
        appointment_notices.RecordWaitlistOffer(
            facts=facts, expires_at=data["expires_at"], event_id=event.id
        ),
    )


def record_plan_summary(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    plan_messages.record_plan_summary(
        uow,
        plan_messages.RecordPlanSummary(
            plan=_plan(event), sessions=_sessions(event.data["sessions"]), event_id=event.id
        ),
    )


def record_plan_extension(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    plan_messages.record_plan_extension(
        uow,
        plan_messages.RecordPlanExtension(
            plan=_plan(event),
            total_sessions=event.data["total_sessions"],
            added=_sessions(event.data["added_sessions"]),
            event_id=event.id,
        ),
    )


def record_plan_cancellation(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    plan_messages.record_plan_cancellation(
        uow,
        plan_messages.RecordPlanCancellation(
            plan=_plan(event),
            cancelled_appointment_ids=event.data["cancelled_appointment_ids"],
            event_id=event.id,
        ),
    )


def record_plan_shortening(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    data = event.data
    plan_messages.record_plan_shortening(
        uow,
        plan_messages.RecordPlanShortening(
            plan=_plan(event),
            total_sessions=data["total_sessions"],
            previous_total_sessions=data["previous_total_sessions"],
            cancelled_appointment_ids=data["cancelled_appointment_ids"],
            event_id=event.id,
        ),
    )


def _plan(event: Envelope) -> plan_messages.PlanFacts:
    data = event.data
    return plan_messages.PlanFacts(
        plan_id=data["plan_id"],
        patient_id=data["patient_id"],
        clinic_id=data["clinic_id"],
        practitioner_id=data["practitioner_id"],
        treatment_type_id=data["treatment_type_id"],
    )


def _sessions(sessions: list[Mapping[str, Any]]) -> list[plan_messages.PlanSession]:
    return [plan_messages.PlanSession(s["appointment_id"], s["starts_at"], s["ends_at"]) for s in sessions]


def record_credit_note(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    subject_messages.record_credit_note(
        uow, command_from(event, subject_messages.RecordCreditNote, event_id=event.id)
    )


def record_invoice_issued(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    data = event.data
    subject_messages.record_message(
        uow,
        subject_messages.RecordMessage(
            kind=DeliveryKind.INVOICE_ISSUED,
            subject_id=data["invoice_id"],
            patient_id=data["patient_id"],
            clinic_id=data["clinic_id"],
            payload={
                "number": data["number"],
                "total_cents": data["total_cents"],
                "balance_cents": data["balance_cents"],
                "currency": data["currency"],
                "due_date": data["due_date"].isoformat(),
                "document_url": data["document_url"],
                "document_expires_at": (
                    data["document_expires_at"].isoformat() if data["document_expires_at"] else None
                ),
            },
            event_id=event.id,
        ),
    )


def record_payment_receipt(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    data = event.data
    subject_messages.record_message(
        uow,
        subject_messages.RecordMessage(
            kind=DeliveryKind.PAYMENT_RECEIPT,
            subject_id=data["payment_id"],
            patient_id=data["patient_id"],
            clinic_id=data["clinic_id"],
            payload={"amount_cents": data["amount_cents"], "currency": data["currency"]},
            event_id=event.id,
        ),
    )


def record_password_reset(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    _record_account_message(uow, event, DeliveryKind.PASSWORD_RESET)


def record_sign_up_link(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    _record_account_message(uow, event, DeliveryKind.SIGN_UP_LINK)


def record_sign_up_account_exists(uow: NotificationsUnitOfWork, event: Envelope) -> None:
    _record_account_message(uow, event, DeliveryKind.SIGN_UP_ACCOUNT_EXISTS)


def _record_account_message(uow: NotificationsUnitOfWork, event: Envelope, kind: DeliveryKind) -> None:
    data = event.data
    account_messages.record_account_message(
        uow,
        account_messages.RecordAccountMessage(
            kind=kind,
            event_id=event.id,
            # A sign-up has no patient yet.
            patient_id=data.get("patient_id"),
            email=data["email"],
            language=data["language"],
            first_name=data["first_name"],
            requested_at=event.occurred_at,
            token=data.get("token"),
            expires_at=data.get("expires_at"),
        ),
    )


def _record(uow: NotificationsUnitOfWork, event: Envelope, kind: DeliveryKind) -> None:
    appointment_notices.record_appointment_notices(
        uow, appointment_notices.RecordAppointmentNotices(kind=kind, facts=_facts(event), event_id=event.id)
    )


def _facts(event: Envelope) -> AppointmentFacts:
    data = event.data
    try:
        return AppointmentFacts(
            appointment_id=data["appointment_id"],
            patient_id=data["patient_id"],
            clinic_id=data["clinic_id"],
            practitioner_id=data["practitioner_id"],
            treatment_type_id=data["treatment_type_id"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            sequence=data["sequence"],
            plan_id=data["plan_id"],
        )
    except ValueError as exc:
        # Valid JSON, impossible facts: retrying cannot help, so the consumer dead-letters it at once.
        raise EventContractError(f"{event.type}: {exc}") from None


HANDLERS: Mapping[str, Handler] = {
    "scheduling.patient.registered": update_contact,
    "scheduling.patient.updated": update_contact,
    "scheduling.clinic.changed": update_clinic,
    "scheduling.practitioner.changed": update_practitioner,
    "scheduling.treatment_type.changed": update_treatment_type,
    "scheduling.appointment.booked": record_booking_confirmation,
    "scheduling.appointment.cancelled": record_cancellation,
    "scheduling.appointment.rescheduled": record_reschedule,
    "scheduling.appointment.confirmed": record_confirmation,
    "scheduling.waitlist.offered": record_waitlist_offer,
    "scheduling.plan.created": record_plan_summary,
    "scheduling.plan.extended": record_plan_extension,
    "scheduling.plan.cancelled": record_plan_cancellation,
    "scheduling.plan.shortened": record_plan_shortening,
    "scheduling.password_reset.requested": record_password_reset,
    "scheduling.sign_up.requested": record_sign_up_link,
    "scheduling.sign_up.account_exists": record_sign_up_account_exists,
    "billing.invoice.issued": record_invoice_issued,
    "billing.payment.received": record_payment_receipt,
    "billing.credit_note.issued": record_credit_note,
}

PRODUCERS = ("scheduling", "billing")

SUBSCRIPTION = Subscription(
    CONSUMER,
    {exchange_for(p): sorted(t for t in HANDLERS if t.startswith(f"{p}.")) for p in PRODUCERS},
)
