"""Scheduling's events update the local copies and record deliveries; nothing is sent by a handler."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from clinic_shared.events import EventContractError, new_event
from notifications.adapters import orm
from notifications.bootstrap import Container
from notifications.domain.channels import Channel
from notifications.domain.copies import ClinicInfo, Contact
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reasons import NEVER_TOLD, SUPERSEDED
from notifications.entrypoints.handlers import HANDLERS, SUBSCRIPTION


def deliveries(container: Container) -> list[Delivery]:
    with container.uow() as uow:
        return list(
            uow.session.scalars(
                select(Delivery)
                .where(Delivery.kind != DeliveryKind.REMINDER)
                .order_by(Delivery.kind, Delivery.channel)
            )
        )  # type: ignore[arg-type]


def summary(container: Container) -> list[tuple[str, str, int, str]]:
    return [(d.kind.value, d.channel.value, d.sequence, d.status.value) for d in deliveries(container)]


def test_subscribes_to_every_event_it_handles_on_the_scheduling_and_billing_exchanges() -> None:
    assert SUBSCRIPTION.consumer == "notifications"
    assert set(SUBSCRIPTION.bindings) == {"scheduling.events", "billing.events"}
    assert all(t.startswith("billing.") for t in SUBSCRIPTION.bindings["billing.events"])
    bound = [t for types in SUBSCRIPTION.bindings.values() for t in types]
    assert sorted(bound) == sorted(HANDLERS)


def test_patient_registered_creates_a_contact_copy_without_the_last_name(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    apply(events.patient_registered(language="fr"))
    with container.uow() as uow:
        contact = uow.repo.contact(events.patient_id)
    assert contact is not None
    assert (contact.first_name, contact.email, contact.phone, contact.language) == (
        "Pat",
        "pat@example.com",
        "+16045550100",
        "fr",
    )
    assert "last_name" not in orm.contacts.c


def test_an_older_patient_update_does_not_overwrite_newer_details(
    container: Container, apply: Callable[..., None], events: Any, clock: Any
) -> None:
    newer = events.patient_registered(email="new@example.com", updated=True)
    older = events.patient_registered(email="old@example.com", occurred_at=clock.now() - timedelta(minutes=1))
    apply(newer, older)
    with container.uow() as uow:
        contact = uow.repo.contact(events.patient_id)
    assert contact is not None
    assert contact.email == "new@example.com"


def test_clinic_practitioner_and_treatment_copies_follow_their_changes(
    container: Container, apply: Callable[..., None], events: Any, clock: Any
) -> None:
    apply(events.clinic_changed(), events.practitioner_changed(), events.treatment_type_changed())
    clock.advance(minutes=1)
    apply(
        events.clinic_changed(timezone="America/Toronto", name="Renamed"),
        events.practitioner_changed(display_name="Dr. Ida N."),
        events.treatment_type_changed(name="IMS, 30"),
    )
    with container.uow() as uow:
        clinic = uow.repo.get(ClinicInfo, events.clinic_id)
        practitioner = uow.repo.practitioner(events.practitioner_id)
        treatment = uow.repo.treatment_type(events.treatment_type_id)
    assert clinic is not None
    assert (clinic.name, clinic.timezone) == ("Renamed", "America/Toronto")
    assert practitioner is not None
    assert practitioner.display_name == "Dr. Ida N."
    assert treatment is not None
    assert treatment.name == "IMS, 30"


def test_booking_records_pending_email_and_sms_and_sends_nothing(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    apply(*events.catalogue())
    booked = events.booked()
    apply(booked)
    recorded = deliveries(container)
    assert summary(container) == [
        ("booking_confirmation", "email", 0, "pending"),
        ("booking_confirmation", "sms", 0, "pending"),
    ]
    assert {d.event_id for d in recorded} == {booked.id}
    assert {d.appointment_id for d in recorded} == {events.appointment_id}
    assert transport.emails == []
    assert transport.sms == []


def test_booking_for_a_patient_without_phone_records_only_an_email(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    assert summary(container) == [("booking_confirmation", "email", 0, "pending")]


def test_booking_before_the_contact_arrives_records_an_sms_for_the_dispatcher_to_decide(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    apply(events.booked())
    assert [channel for _, channel, _, _ in summary(container)] == ["email", "sms"]


def test_the_same_booking_twice_records_each_message_once(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    """A producer re-emitting the same facts under a new event id gets past the inbox; the key stops it."""
    apply(*events.catalogue())
    apply(events.booked(), events.booked())
    assert len(deliveries(container)) == 2
    with container.uow() as uow:
        rows = uow.session.scalar(select(func.count()).select_from(orm.deliveries))
        keys = uow.session.scalar(select(func.count(func.distinct(orm.deliveries.c.key))))
    assert keys == rows == 4  # the confirmation and the reminder, by e-mail and SMS


def test_a_booking_cancelled_before_its_confirmation_went_out_sends_nothing(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    """Booked and cancelled within the debounce: the patient never heard of it, so neither message goes."""
    apply(*events.catalogue(), events.booked(), events.cancelled())
    assert summary(container) == [
        ("booking_confirmation", "email", 0, "skipped"),
        ("booking_confirmation", "sms", 0, "skipped"),
        ("cancellation", "email", 1, "skipped"),
        ("cancellation", "sms", 1, "skipped"),
    ]
    reasons = {(d.kind.value, d.last_error) for d in deliveries(container)}
    assert reasons == {
        ("booking_confirmation", SUPERSEDED),
        ("cancellation", NEVER_TOLD),
    }


def test_a_cancellation_goes_out_when_the_confirmation_is_being_sent(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    """A confirmation claimed by the dispatcher may reach the patient: the cancellation must follow it."""
    apply(*events.catalogue(phone=None), events.booked())
    with container.uow() as uow:
        (confirmation,) = [
            d for d in uow.repo.deliveries_for_appointment(events.appointment_id) if not d.is_reminder
        ]
        confirmation.claim(uow.clock.now(), "pat@example.com")
        uow.commit()
    apply(events.cancelled())
    assert summary(container) == [
        ("booking_confirmation", "email", 0, "sending"),
        ("cancellation", "email", 1, "pending"),
    ]


def test_cancellation_leaves_a_confirmation_already_sent_alone(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    apply(*events.catalogue(phone=None), events.booked())
    with container.uow() as uow:
        (confirmation,) = [
            d for d in uow.repo.deliveries_for_appointment(events.appointment_id) if not d.is_reminder
        ]
        confirmation.claim(uow.clock.now(), "pat@example.com")
        confirmation.mark_sent(uow.clock.now(), None)
        uow.commit()
    apply(events.cancelled())
    assert summary(container) == [
        ("booking_confirmation", "email", 0, "sent"),
        ("cancellation", "email", 1, "pending"),
    ]


def test_a_booking_arriving_after_its_cancellation_is_recorded_as_skipped(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    apply(*events.catalogue(phone=None), events.cancelled(), events.booked())
    assert summary(container) == [
        ("booking_confirmation", "email", 0, "skipped"),
        ("cancellation", "email", 1, "skipped"),
    ]


def test_messages_remember_the_appointment_as_the_event_described_it(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    starts_at = datetime(2025, 7, 1, 15, 0, tzinfo=UTC)
    apply(events.booked(starts_at=starts_at))
    email = next(d for d in deliveries(container) if d.channel is Channel.EMAIL)
    assert (email.starts_at, email.ends_at) == (starts_at, starts_at + timedelta(minutes=30))
    assert (email.kind, email.status, email.attempts) == (
        DeliveryKind.BOOKING_CONFIRMATION,
        DeliveryStatus.PENDING,
        0,
    )


def test_an_appointment_ending_before_it_starts_is_a_contract_error(
    container: Container, events: Any, clock: Any
) -> None:
    data = events.booked().data | {"ends_at": datetime(2025, 3, 10, 15, 0, tzinfo=UTC)}
    event = new_event("scheduling.appointment.booked", data, producer="scheduling", occurred_at=clock.now())
    with container.uow() as uow, pytest.raises(EventContractError):
        HANDLERS[event.type](uow, event)


def test_contact_update_needs_no_booking(
    container: Container, apply: Callable[..., None], events: Any
) -> None:
    apply(events.patient_registered(phone=None, updated=True))
    with container.uow() as uow:
        assert isinstance(uow.repo.contact(events.patient_id), Contact)
    assert deliveries(container) == []
