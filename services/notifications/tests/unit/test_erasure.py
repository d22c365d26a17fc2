"""An erased patient (scheduling's DELETE /patients/{id}) keeps a contact copy whose e-mail address is in the
reserved .invalid domain (RFC 2606) and has no phone: nothing is sent to them any more, like an opt-out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from notifications.bootstrap import Container
from notifications.domain.channels import Channel, email_deliverable
from notifications.domain.composition import compose_account_message
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.errors import NoAddress
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reasons import UNDELIVERABLE
from notifications.entrypoints.dispatcher import Dispatcher


def erased(events: Any) -> Any:
    """scheduling.patient.updated as scheduling's erasure emits it."""
    return events.patient_registered(
        updated=True,
        first_name="Erased",
        email=f"erased-{events.patient_id}@erased.invalid",
        phone=None,
        occurred_at=events.clock.now(),
    )


def deliveries(container: Container) -> list[Delivery]:
    with container.uow() as uow:
        return list(uow.session.scalars(select(Delivery)))


@pytest.mark.parametrize(
    ("address", "deliverable"),
    [
        ("pat@example.com", True),
        ("erased-1@erased.invalid", False),
        ("x@ERASED.INVALID", False),
        ("x@erased.invalid.", False),
        ("x@invalid", False),
        ("x@invalid.example.com", True),
        ("", False),
        (None, False),
    ],
)
def test_addresses_in_the_reserved_invalid_domain_cannot_receive_mail(
    address: str | None, deliverable: bool
) -> None:
    assert email_deliverable(address) is deliverable


def test_an_erased_patient_gets_no_message_about_a_later_appointment(
    apply: Callable[..., None], events: Any, container: Container, transport: Any, clock: Any
) -> None:
    apply(*events.catalogue())
    clock.advance(minutes=1)
    apply(erased(events), events.booked())
    clock.advance(days=10)
    Dispatcher.from_container(container).dispatch_due()
    assert transport.emails == []
    assert transport.sms == []
    # Neither recorded on e-mail (as for an opt-out) nor on SMS (no phone).
    assert deliveries(container) == []


def test_messages_pending_when_the_patient_is_erased_are_skipped_with_the_reason(
    apply: Callable[..., None], events: Any, container: Container, transport: Any, clock: Any
) -> None:
    apply(*events.catalogue(), events.booked())
    pending = deliveries(container)
    assert {d.channel for d in pending} == {Channel.EMAIL, Channel.SMS}
    clock.advance(minutes=1)
    apply(erased(events))
    Dispatcher.from_container(container).dispatch_due()
    assert transport.emails == []
    assert transport.sms == []
    confirmations = {
        d.channel: d for d in deliveries(container) if d.kind is DeliveryKind.BOOKING_CONFIRMATION
    }
    email = confirmations[Channel.EMAIL]
    assert (email.status, email.last_error) == (DeliveryStatus.SKIPPED, UNDELIVERABLE)
    assert confirmations[Channel.SMS].status is DeliveryStatus.SKIPPED  # no phone any more


def test_no_account_message_goes_to_an_address_in_the_invalid_domain() -> None:
    now = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)
    delivery = Delivery.record_message(
        delivery_id=uuid.uuid4(),
        kind=DeliveryKind.PASSWORD_RESET,
        subject_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        clinic_id=None,
        payload={"email": "erased-1@erased.invalid", "language": "en", "first_name": "Erased"},
        event_id=uuid.uuid4(),
        now=now,
        due_at=now,
    )
    with pytest.raises(NoAddress):
        compose_account_message(delivery)
