"""Waitlist offers: sent at once (no debounce) by e-mail and SMS, without an invitation, never after they
lapse; in the patient's language."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from notifications.bootstrap import Container
from notifications.domain.model import DeliveryStatus
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.service_layer import services

SLOT = datetime(2025, 3, 4, 18, 0, tzinfo=UTC)  # 10:00 in Vancouver (PST)


def test_an_offer_goes_out_at_once_with_its_expiry_in_clinic_time(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    offer_id = uuid.uuid4()
    offered = events.waitlist_offered(
        starts_at=SLOT, expires_at=clock.now() + timedelta(hours=2), offer_id=offer_id
    )
    apply(*events.catalogue(), offered, offered)
    assert Dispatcher.from_container(container).dispatch_due() == 2
    (email,), (sms,) = transport.emails, transport.sms
    assert email.subject == "A time is available at Demo IMS Clinic on Tuesday, March 4, 2025"
    assert "holding it for you until 11:00 AM" in email.text  # 19:00 UTC
    assert email.calendar is None
    assert "Held until 11:00 AM" in sms.body


def test_an_offer_is_not_sent_once_it_has_lapsed(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    offered = events.waitlist_offered(
        starts_at=SLOT, expires_at=clock.now() + timedelta(minutes=30), offer_id=uuid.uuid4()
    )
    apply(*events.catalogue(language="fr"), offered)
    clock.advance(minutes=30)  # the dispatcher was down until the offer lapsed
    sender = Dispatcher.from_container(container)
    assert sender.dispatch_due() == 0
    assert sender.last_report.skipped == 2
    with container.uow() as uow:
        kinds = {
            (d.status, d.last_error) for d in uow.repo.deliveries_for_appointment(offered.data["offer_id"])
        }
    assert kinds == {(DeliveryStatus.SKIPPED, services.EXPIRED)}


def test_an_offer_is_written_in_french_for_a_french_speaking_patient(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    offered = events.waitlist_offered(
        starts_at=SLOT, expires_at=clock.now() + timedelta(hours=2), offer_id=uuid.uuid4()
    )
    apply(*events.catalogue(language="fr", phone=None), offered)
    Dispatcher.from_container(container).dispatch_due()
    (email,) = transport.emails
    assert email.subject == "Une plage est disponible le mardi 4 mars 2025 chez Demo IMS Clinic"
    assert "à 11 h 00" in email.text
