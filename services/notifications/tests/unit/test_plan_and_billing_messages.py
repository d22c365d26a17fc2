"""Treatment plan summaries (every session in clinic time) and billing's messages (invoice issued, payment
receipt): one e-mail per plan, invoice or payment, amounts from integer cents, in the patient's language."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clinic_shared.events import Envelope, new_event
from notifications.bootstrap import Container
from notifications.domain.model import Channel, DeliveryKind, DeliveryStatus
from notifications.entrypoints.dispatcher import Dispatcher


def plan_created(events: Any, starts: list[datetime]) -> Envelope:
    return new_event(
        "scheduling.plan.created",
        {
            "plan_id": uuid.uuid4(),
            "clinic_id": events.clinic_id,
            "patient_id": events.patient_id,
            "practitioner_id": events.practitioner_id,
            "treatment_type_id": events.treatment_type_id,
            "total_sessions": len(starts),
            "sessions": [
                {
                    "appointment_id": uuid.uuid4(),
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=30),
                    "practitioner_id": events.practitioner_id,
                }
                for start in starts
            ],
        },
        producer="scheduling",
        occurred_at=events.clock.now(),
    )


def invoice_issued(events: Any, invoice_id: uuid.UUID) -> Envelope:
    return new_event(
        "billing.invoice.issued",
        {
            "invoice_id": invoice_id,
            "number": "VAN-2025-0042",
            "clinic_id": events.clinic_id,
            "patient_id": events.patient_id,
            "payer_kind": "patient",
            "total_cents": 12550,
            "balance_cents": 12550,
            "currency": "CAD",
            "issued_at": events.clock.now(),
            "due_date": date(2025, 4, 1),
        },
        producer="billing",
        occurred_at=events.clock.now(),
    )


def payment_received(events: Any) -> Envelope:
    return new_event(
        "billing.payment.received",
        {
            "payment_id": uuid.uuid4(),
            "clinic_id": events.clinic_id,
            "patient_id": events.patient_id,
            "amount_cents": 9005,
            "currency": "CAD",
            "method": "card",
            "received_at": events.clock.now(),
            "allocations": [],
        },
        producer="billing",
        occurred_at=events.clock.now(),
    )


def test_a_plan_summary_lists_every_session_in_clinic_time_across_a_dst_change(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    # 9:00 in Vancouver each Friday: PST (17:00 UTC) before 2025-03-09, PDT (16:00 UTC) after.
    starts = [
        datetime(2025, 3, 7, 17, 0, tzinfo=UTC),
        datetime(2025, 3, 14, 16, 0, tzinfo=UTC),
        datetime(2025, 3, 21, 16, 0, tzinfo=UTC),
    ]
    apply(*events.catalogue(), plan_created(events, list(reversed(starts))))
    assert Dispatcher.from_container(container).dispatch_due() == 1
    (email,) = transport.emails
    assert transport.sms == []
    assert email.calendar is None
    assert email.subject == "Your treatment plan at Demo IMS Clinic: 3 sessions from Friday, March 7, 2025"
    assert "- Friday, March 7, 2025, 9:00 AM \u2013 9:30 AM" in email.text
    assert "- Friday, March 14, 2025, 9:00 AM \u2013 9:30 AM" in email.text
    assert "- Friday, March 21, 2025, 9:00 AM \u2013 9:30 AM" in email.text
    assert "Dr. Ida Needham" in email.html


def test_an_invoice_is_announced_once_with_amounts_from_cents_in_french(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    invoice_id = uuid.uuid4()
    apply(
        *events.catalogue(language="fr"),
        invoice_issued(events, invoice_id),
        invoice_issued(events, invoice_id),
    )
    assert Dispatcher.from_container(container).dispatch_due() == 1
    (email,) = transport.emails
    assert (
        email.subject
        == "Facture VAN-2025-0042 de Demo IMS Clinic : 125,50 CAD à payer d\u2019ici le 1er avril 2025"
    )
    assert "Total :          125,50 CAD" in email.text
    with container.uow() as uow:
        (delivery,) = uow.repo.deliveries_for_appointment(invoice_id)
    assert (delivery.kind, delivery.channel, delivery.status) == (
        DeliveryKind.INVOICE_ISSUED,
        Channel.EMAIL,
        DeliveryStatus.SENT,
    )


def test_a_payment_receipt_is_sent_by_email(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue(), payment_received(events))
    Dispatcher.from_container(container).dispatch_due()
    (email,) = transport.emails
    assert email.subject == "Receipt from Demo IMS Clinic: CAD 90.05 received"


def test_a_billing_message_waits_for_the_patient_details(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(events.clinic_changed(), payment_received(events))
    sender = Dispatcher.from_container(container)
    assert sender.dispatch_due() == 0
    assert sender.last_report.deferred == 1
    apply(events.patient_registered())
    clock.advance(seconds=30)
    assert sender.dispatch_due() == 1
