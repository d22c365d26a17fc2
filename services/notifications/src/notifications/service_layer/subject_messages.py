"""Messages about a subject other than an appointment (an invoice, a payment, a credit note; a treatment
plan's, through ``plan_messages``): one per subject, kind and channel."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery
from notifications.domain.kinds import DeliveryKind
from notifications.domain.notices import patient_channels
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


@dataclass(frozen=True)
class RecordMessage:
    """A message about a plan, an invoice or a payment (``subject_id``): one e-mail per subject and kind."""

    kind: DeliveryKind
    subject_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    payload: dict[str, Any]
    event_id: uuid.UUID
    practitioner_id: uuid.UUID | None = None
    treatment_type_id: uuid.UUID | None = None
    # Also by SMS (where the patient allows it): plan messages, which stand in for per-session texts.
    by_sms: bool = False
    # Record the message as skipped with this reason on these channels (it need not go out).
    unsent: Mapping[Channel, str] = field(default_factory=dict)


def record_message(uow: NotificationsUnitOfWork, cmd: RecordMessage) -> list[Delivery]:
    """Record the message (due after the debounce) on each channel it was not recorded on already (a
    redelivered event records nothing)."""
    now = uow.clock.now()
    channels = [Channel.EMAIL]
    if cmd.by_sms:
        channels = patient_channels(uow.repo.contact(cmd.patient_id))
    recorded = []
    for channel in channels:
        if uow.repo.delivery_by_key(Delivery.key_for(cmd.subject_id, cmd.kind, channel, 0)) is not None:
            continue
        delivery = Delivery.record_message(
            delivery_id=uow.new_id(),
            kind=cmd.kind,
            subject_id=cmd.subject_id,
            patient_id=cmd.patient_id,
            clinic_id=cmd.clinic_id,
            payload=cmd.payload,
            event_id=cmd.event_id,
            now=now,
            due_at=now + uow.debounce,
            practitioner_id=cmd.practitioner_id,
            treatment_type_id=cmd.treatment_type_id,
            channel=channel,
        )
        if channel in cmd.unsent:
            delivery.skip(now, cmd.unsent[channel])
        uow.repo.add(delivery)
        recorded.append(delivery)
    return recorded


@dataclass(frozen=True)
class RecordCreditNote:
    """Billing credited (part of) an invoice (billing.credit_note.issued)."""

    credit_note_id: uuid.UUID
    number: str
    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    clinic_id: uuid.UUID
    amount_cents: int
    currency: str
    voids_invoice: bool
    event_id: uuid.UUID


def record_credit_note(uow: NotificationsUnitOfWork, cmd: RecordCreditNote) -> list[Delivery]:
    """One e-mail per credit note; the invoice's number is the one its "invoice issued" message carried
    (None when that message was never recorded here: the e-mail then says "your invoice")."""
    invoice_message = uow.repo.delivery_by_key(
        Delivery.key_for(cmd.invoice_id, DeliveryKind.INVOICE_ISSUED, Channel.EMAIL, 0)
    )
    invoice_number = (invoice_message.payload or {}).get("number") if invoice_message else None
    return record_message(
        uow,
        RecordMessage(
            kind=DeliveryKind.CREDIT_NOTE_ISSUED,
            subject_id=cmd.credit_note_id,
            patient_id=cmd.patient_id,
            clinic_id=cmd.clinic_id,
            payload={
                "credit_note_number": cmd.number,
                "invoice_number": invoice_number,
                "amount_cents": cmd.amount_cents,
                "currency": cmd.currency,
                "voids_invoice": cmd.voids_invoice,
            },
            event_id=cmd.event_id,
        ),
    )
