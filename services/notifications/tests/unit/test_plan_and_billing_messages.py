"""Treatment plan summaries (every session in clinic time), extensions and cancellations, and billing's
messages (invoice issued, payment receipt, credit note): one e-mail per plan change, invoice, payment or
credit note, amounts from integer cents, in the patient's language."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar

from clinic_shared.events import Envelope, new_event
from notifications.bootstrap import Container
from notifications.domain.channels import Channel
from notifications.domain.deliveries import DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import SUBSCRIPTION


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


def invoice_issued(events: Any, invoice_id: uuid.UUID, **link: Any) -> Envelope:
    return new_event(
        "billing.invoice.issued",
        link
        | {
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
    plan = plan_created(events, list(reversed(starts)))
    apply(*events.catalogue(), plan)
    assert Dispatcher.from_container(container).dispatch_due() == 2
    (email,) = transport.emails
    (sms,) = transport.sms
    assert sms.body == (
        "Demo IMS Clinic: Hi Pat, your treatment plan is booked: 3 sessions with Dr. Ida Needham, the first "
        "Fri Mar 7 at 9:00 AM PST. All dates are in your e-mail. Questions: +16045550199"
    )
    # One invitation carries every session, each under the UID its own later messages will use.
    assert email.calendar is not None
    assert email.calendar.method == "REQUEST"
    vevents = icalendar.Calendar.from_ical(email.calendar.content).walk("VEVENT")
    by_uid = {str(e["UID"]): e for e in vevents}
    assert set(by_uid) == {f"{s['appointment_id']}@ims-clinic" for s in plan.data["sessions"]}
    assert sorted(e.decoded("DTSTART").astimezone(UTC) for e in vevents) == starts
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


def plan_extended(events: Any, plan_id: uuid.UUID, starts: list[datetime], total: int) -> Envelope:
    return new_event(
        "scheduling.plan.extended",
        {
            "plan_id": plan_id,
            "clinic_id": events.clinic_id,
            "patient_id": events.patient_id,
            "practitioner_id": events.practitioner_id,
            "treatment_type_id": events.treatment_type_id,
            "total_sessions": total,
            "added_sessions": [
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


def plan_cancelled(events: Any, plan_id: uuid.UUID, appointment_ids: list[uuid.UUID]) -> Envelope:
    return new_event(
        "scheduling.plan.cancelled",
        {
            "plan_id": plan_id,
            "clinic_id": events.clinic_id,
            "patient_id": events.patient_id,
            "practitioner_id": events.practitioner_id,
            "treatment_type_id": events.treatment_type_id,
            "total_sessions": 6,
            "cancelled_appointment_ids": appointment_ids,
            "cancelled_at": events.clock.now(),
        },
        producer="scheduling",
        occurred_at=events.clock.now(),
    )


def credit_note_issued(events: Any, invoice_id: uuid.UUID, *, voids: bool = False) -> Envelope:
    return new_event(
        "billing.credit_note.issued",
        {
            "credit_note_id": uuid.uuid4(),
            "number": "VAN-CN-2025-0007",
            "invoice_id": invoice_id,
            "clinic_id": events.clinic_id,
            "patient_id": events.patient_id,
            "amount_cents": 4005,
            "currency": "CAD",
            "issued_at": events.clock.now(),
            "voids_invoice": voids,
        },
        producer="billing",
        occurred_at=events.clock.now(),
    )


def test_the_consumer_is_bound_to_plan_changes_and_credit_notes() -> None:
    assert {"scheduling.plan.extended", "scheduling.plan.cancelled"} <= set(
        SUBSCRIPTION.bindings["scheduling.events"]
    )
    assert "billing.credit_note.issued" in SUBSCRIPTION.bindings["billing.events"]


def test_each_plan_extension_lists_the_added_dates_in_clinic_time_once(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    plan_id = uuid.uuid4()
    # 9:00 in Vancouver: PST (17:00 UTC) before 2025-03-09, PDT (16:00 UTC) after.
    first = plan_extended(events, plan_id, [datetime(2025, 3, 14, 16, 0, tzinfo=UTC)], 4)
    second = plan_extended(
        events,
        plan_id,
        [datetime(2025, 3, 28, 16, 0, tzinfo=UTC), datetime(2025, 3, 7, 17, 0, tzinfo=UTC)],
        6,
    )
    apply(*events.catalogue(), first, first, second)
    assert Dispatcher.from_container(container).dispatch_due() == 4  # each by e-mail and by text
    one, two = sorted(transport.emails, key=lambda e: len(e.text))
    assert sorted(sms.body for sms in transport.sms) == [
        "Demo IMS Clinic: Hi Pat, 1 session was added to your treatment plan, from Fri Mar 14 at 9:00 AM "
        "PDT. Details in your e-mail. Questions: +16045550199",
        "Demo IMS Clinic: Hi Pat, 2 sessions were added to your treatment plan, from Fri Mar 7 at 9:00 AM "
        "PST. Details in your e-mail. Questions: +16045550199",
    ]
    assert one.calendar is not None
    assert two.calendar is not None
    assert len(icalendar.Calendar.from_ical(two.calendar.content).walk("VEVENT")) == 2
    assert (
        one.subject == "Your treatment plan at Demo IMS Clinic: 1 session added from Friday, March 14, 2025"
    )
    assert "- Friday, March 14, 2025, 9:00 AM \u2013 9:30 AM" in one.text
    assert "now has 4 sessions in all" in one.text
    assert two.subject.endswith("2 sessions added from Friday, March 7, 2025")
    assert two.text.index("March 7, 2025, 9:00 AM") < two.text.index("March 28, 2025, 9:00 AM")
    assert "Dr. Ida Needham" in two.html


def test_a_plan_extension_in_french(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(
        *events.catalogue(language="fr"),
        plan_extended(events, uuid.uuid4(), [datetime(2025, 3, 14, 16, 0, tzinfo=UTC)], 4),
    )
    Dispatcher.from_container(container).dispatch_due()
    (email,) = transport.emails
    assert email.subject == (
        "Votre plan de traitement chez Demo IMS Clinic : 1 séance ajoutée dès le vendredi 14 mars 2025"
    )
    assert "- vendredi 14 mars 2025, de 9 h 00 à 9 h 30" in email.text


def test_a_plan_cancellation_names_the_cancelled_sessions_once(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    kept, dropped_late, dropped_early, unknown = (uuid.uuid4() for _ in range(4))
    plan_id = uuid.uuid4()
    apply(
        *events.catalogue(language="fr"),
        events.booked(starts_at=datetime(2025, 3, 5, 17, 0, tzinfo=UTC), appointment_id=kept),
        events.booked(starts_at=datetime(2025, 3, 21, 16, 0, tzinfo=UTC), appointment_id=dropped_late),
        events.booked(starts_at=datetime(2025, 3, 14, 16, 0, tzinfo=UTC), appointment_id=dropped_early),
    )
    event = plan_cancelled(events, plan_id, [dropped_late, dropped_early, unknown])
    apply(event, event)
    transport.emails.clear()
    with container.uow() as uow:
        recorded = uow.repo.deliveries_for_appointment(plan_id)
    assert sorted((d.kind, d.channel) for d in recorded) == [
        (DeliveryKind.PLAN_CANCELLED, Channel.EMAIL),
        (DeliveryKind.PLAN_CANCELLED, Channel.SMS),
    ]
    Dispatcher.from_container(container).dispatch_due()
    (email,) = [e for e in transport.emails if "annulé" in e.subject and "plan" in e.subject]
    assert email.subject == "Votre plan de traitement chez Demo IMS Clinic est annulé"
    assert "3 séances à venir sont annulées :" in email.text
    assert email.text.index("vendredi 14 mars 2025, de 9 h 00") < email.text.index("vendredi 21 mars 2025")
    assert "5 mars" not in email.text
    # The invitation removes the two sessions it knows of from the patient's calendar.
    assert email.calendar is not None
    assert email.calendar.method == "CANCEL"
    vevents = icalendar.Calendar.from_ical(email.calendar.content).walk("VEVENT")
    assert {str(e["UID"]) for e in vevents} == {f"{dropped_late}@ims-clinic", f"{dropped_early}@ims-clinic"}
    assert {str(e["STATUS"]) for e in vevents} == {"CANCELLED"}
    (sms,) = [t for t in transport.sms if "plan" in t.body]
    assert sms.body == (
        "Demo IMS Clinic : Bonjour Pat, votre plan de traitement est annulé, avec ses 3 séances à venir. "
        "Pour reprendre rendez-vous, appelez le +16045550199"
    )


def test_a_credit_note_names_the_invoice_and_the_amount_from_cents(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    invoice_id = uuid.uuid4()
    note = credit_note_issued(events, invoice_id)
    apply(*events.catalogue(), invoice_issued(events, invoice_id), note, note)
    Dispatcher.from_container(container).dispatch_due()
    (email,) = [e for e in transport.emails if e.subject.startswith("Credit note")]
    assert email.subject == (
        "Credit note VAN-CN-2025-0007 from Demo IMS Clinic: CAD 40.05 credited on invoice VAN-2025-0042"
    )
    assert "you owe nothing" not in email.text
    assert email.calendar is None


def test_a_credit_note_voiding_an_invoice_unknown_here_in_french(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue(language="fr"), credit_note_issued(events, uuid.uuid4(), voids=True))
    Dispatcher.from_container(container).dispatch_due()
    (email,) = transport.emails
    assert email.subject == "Note de crédit VAN-CN-2025-0007 de Demo IMS Clinic : 40,05 CAD crédités"
    assert "sur votre facture." in email.text
    assert "La facture est annulée en entier" in email.html


def test_an_invoice_e_mail_links_to_billing_s_signed_pdf_and_says_until_when(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    url = "https://billing.example/documents/invoice.v1.abc.def"
    # 2025-04-01 06:00 UTC is still March 31 in Vancouver: the expiry is worded in the clinic's zone.
    link = {"document_url": url, "document_expires_at": datetime(2025, 4, 1, 6, 0, tzinfo=UTC)}
    apply(*events.catalogue(), invoice_issued(events, uuid.uuid4(), **link))
    Dispatcher.from_container(container).dispatch_due()
    (email,) = transport.emails
    assert f"the link works until March 31, 2025):\n{url}\n" in email.text
    assert f'<a href="{url}">View or download the invoice (PDF)</a>' in email.html


def test_an_invoice_e_mail_in_french_with_a_link_and_without_one(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    url = "https://billing.example/documents/invoice.v1.abc.def"
    link = {"document_url": url, "document_expires_at": datetime(2025, 5, 1, 19, 0, tzinfo=UTC)}
    apply(
        *events.catalogue(language="fr"),
        invoice_issued(events, uuid.uuid4(), **link),
        invoice_issued(events, uuid.uuid4()),
    )
    Dispatcher.from_container(container).dispatch_due()
    with_link, without = sorted(transport.emails, key=lambda e: url in e.text, reverse=True)
    assert "le lien est valable jusqu\u2019au 1er mai 2025) :" in with_link.text
    assert url not in without.text
    assert "/documents/" not in without.html
