"""Sign-up e-mails: a link that finishes signing up (scheduling.sign_up.requested), and word to an account's
holder that someone tried to sign up with its address (scheduling.sign_up.account_exists). Both go at once,
by e-mail only, in the language asked for; the link's token is redacted from the delivery log once sent."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from clinic_shared.events import Envelope, new_event
from notifications.bootstrap import Container
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import SUBSCRIPTION

TOKEN = "c2lnbi11cC1mb3ItdGhlLXRlc3RzLW9ubHktbm90LXJlYWw"


def sign_up_requested(clock: Any, *, language: str = "en", first_name: str = "Eve") -> Envelope:
    return new_event(
        "scheduling.sign_up.requested",
        {
            "sign_up_id": uuid.uuid4(),
            "email": "eve@example.com",
            "language": language,
            "first_name": first_name,
            "token": TOKEN,
            "expires_at": clock.now() + timedelta(hours=24),
        },
        producer="scheduling",
        occurred_at=clock.now(),
    )


def account_exists(clock: Any, *, language: str = "en", first_name: str | None = "Pat") -> Envelope:
    return new_event(
        "scheduling.sign_up.account_exists",
        {
            "account_id": uuid.uuid4(),
            "patient_id": None,
            "email": "pat@example.com",
            "language": language,
            "first_name": first_name,
        },
        producer="scheduling",
        occurred_at=clock.now(),
    )


def deliveries(container: Container, kind: DeliveryKind) -> list[Delivery]:
    with container.uow() as uow:
        return list(uow.session.scalars(select(Delivery).where(Delivery.kind == kind)))  # type: ignore[arg-type]


def test_the_consumer_is_bound_to_both_sign_up_events() -> None:
    bound = SUBSCRIPTION.bindings["scheduling.events"]
    assert {"scheduling.sign_up.requested", "scheduling.sign_up.account_exists"} <= set(bound)


def test_a_sign_up_link_is_e_mailed_at_once_once_and_its_token_redacted_when_sent(
    container: Container, apply: Callable[..., None], transport: Any, clock: Any
) -> None:
    event = sign_up_requested(clock)
    apply(event, event)  # redelivered
    (pending,) = deliveries(container, DeliveryKind.SIGN_UP_LINK)
    assert pending.payload is not None
    assert pending.payload["token"] == TOKEN
    assert Dispatcher.from_container(container).dispatch_due() == 1
    (email,) = transport.emails
    assert (email.to, email.subject) == ("eve@example.com", "Finish signing up")
    assert email.text.startswith("Hello Eve,\n")
    assert f"\nhttp://127.0.0.1:8000/sign-up/confirm/{TOKEN}\n" in email.text
    assert "valid for 24 hours and can be used once" in email.text
    assert f'<a href="http://127.0.0.1:8000/sign-up/confirm/{TOKEN}">Open my account</a>' in email.html
    assert email.calendar is None
    assert email.reply_to is None
    assert transport.sms == []
    (sent,) = deliveries(container, DeliveryKind.SIGN_UP_LINK)
    assert sent.status is DeliveryStatus.SENT
    assert sent.payload is not None
    assert sent.payload["token"] == "redacted"


def test_a_sign_up_link_in_french(
    container: Container, apply: Callable[..., None], transport: Any, clock: Any
) -> None:
    apply(sign_up_requested(clock, language="fr", first_name="Léa"))
    Dispatcher.from_container(container).dispatch_due()
    (email,) = transport.emails
    assert email.subject == "Terminez votre inscription"
    assert email.text.startswith("Bonjour Léa,\n")
    assert "Le lien est valable 24 heures" in email.text


def test_the_holder_of_a_known_address_is_told_and_pointed_to_sign_in_or_reset(
    container: Container, apply: Callable[..., None], transport: Any, clock: Any
) -> None:
    apply(account_exists(clock), account_exists(clock, language="fr", first_name=None))
    assert Dispatcher.from_container(container).dispatch_due() == 2
    english, french = sorted(transport.emails, key=lambda e: e.language)
    assert english.subject == "You already have an account"
    assert english.text.startswith("Hello Pat,\n")
    assert "your password stays as it is" in english.text
    assert "http://127.0.0.1:8000/login\n" in english.text
    assert "http://127.0.0.1:8000/forgot-password\n" in english.text
    assert french.subject == "Vous avez déjà un compte"
    assert french.text.startswith("Bonjour,\n")
    assert "None" not in english.text + english.html + french.text + french.html
