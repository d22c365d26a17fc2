"""Waitlist offers: sent at once (no debounce) by e-mail and SMS, without an invitation, never after they
lapse; in the patient's language."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clinic_shared.settings import ConfigError
from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.deliveries import DeliveryStatus
from notifications.domain.reasons import EXPIRED
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS

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
    assert kinds == {(DeliveryStatus.SKIPPED, EXPIRED)}


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


@pytest.fixture
def with_portal(
    sqlite_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
) -> Iterator[Container]:
    """The container with the patient portal's address set (WEB_PUBLIC_URL)."""
    c = bootstrap(
        make_settings(sqlite_url, WEB_PUBLIC_URL="https://portal.example/"),
        clock=clock,
        verifier=issuer.verifier(),
        mailer=transport,
        sms=transport,
    )
    yield c
    c.engine.dispose()


def apply_to(container: Container, *events: Any) -> None:
    for event in events:
        with container.uow() as uow:
            HANDLERS[event.type](uow, event)
            uow.commit()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_offer_links_to_the_portal_page_that_takes_it(
    with_portal: Container, events: Any, transport: Any, clock: Any, language: str
) -> None:
    offer_id = uuid.uuid4()
    offered = events.waitlist_offered(
        starts_at=SLOT, expires_at=clock.now() + timedelta(hours=2), offer_id=offer_id
    )
    apply_to(with_portal, *events.catalogue(language=language), offered)
    Dispatcher.from_container(with_portal).dispatch_due()
    (email,), (sms,) = transport.emails, transport.sms
    link = f"https://portal.example/waitlist/offers/{offer_id}"
    assert link in email.text
    assert f'href="{link}"' in email.html
    assert link in sms.body
    assert "+16045550199" in sms.body  # calling the clinic still works


def test_without_the_portal_address_an_offer_says_to_call(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    offered = events.waitlist_offered(
        starts_at=SLOT, expires_at=clock.now() + timedelta(hours=2), offer_id=uuid.uuid4()
    )
    apply(*events.catalogue(), offered)
    Dispatcher.from_container(container).dispatch_due()
    (email,), (sms,) = transport.emails, transport.sms
    assert "/waitlist/offers/" not in email.text + email.html + sms.body
    assert "To take it, call us at" in email.text


def test_the_portal_address_must_be_a_web_url() -> None:
    with pytest.raises(ConfigError, match="WEB_PUBLIC_URL"):
        NotificationsSettings.from_env({"WEB_PUBLIC_URL": "portal.example"})
    assert NotificationsSettings.from_env({}).web_public_url is None
