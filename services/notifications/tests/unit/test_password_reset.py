"""Password-reset e-mails (scheduling.password_reset.requested): one e-mail per request, at once, e-mail only
and whatever the channel choices, in the account's language, linking to WEB_PUBLIC_URL/reset-password/{token};
the token is redacted from the delivery log once the message is done with, and never logged."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinic_shared.events import Envelope, new_event
from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reasons import LINK_EXPIRED
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from notifications.service_layer import account_messages

TOKEN = "Zm9yLXRoZS10ZXN0cy1vbmx5LW5vdC1hLXJlYWwtdG9rZW4"


def reset_requested(
    clock: Any,
    *,
    patient_id: uuid.UUID | None = None,
    email: str = "pat@example.com",
    language: str = "en",
    first_name: str | None = "Pat",
    token: str = TOKEN,
    minutes: int = 30,
) -> Envelope:
    return new_event(
        "scheduling.password_reset.requested",
        {
            "account_id": uuid.uuid4(),
            "patient_id": patient_id,
            "email": email,
            "language": language,
            "first_name": first_name,
            "token": token,
            "expires_at": clock.now() + timedelta(minutes=minutes),
        },
        producer="scheduling",
        occurred_at=clock.now(),
    )


def reset_deliveries(container: Container) -> list[Delivery]:
    with container.uow() as uow:
        query = select(Delivery).where(Delivery.kind == DeliveryKind.PASSWORD_RESET)  # type: ignore[arg-type]
        return list(uow.session.scalars(query))


def stored_text(container: Container) -> str:
    """Every row of every table, as text: what a copy of the database would show."""
    with container.engine.connect() as conn:
        return "\n".join(
            repr(tuple(row)) for table in orm.metadata.sorted_tables for row in conn.execute(select(table))
        )


def test_the_consumer_is_bound_to_password_reset_requests() -> None:
    assert "scheduling.password_reset.requested" in SUBSCRIPTION.bindings["scheduling.events"]


def test_a_reset_link_is_e_mailed_at_once_to_the_account_and_only_once_per_request(
    debounced: Container, events: Any, transport: Any, clock: Any
) -> None:
    event = reset_requested(clock, patient_id=events.patient_id)
    for _ in range(2):  # the same event redelivered
        with debounced.uow() as uow:
            account_messages.record_account_message(uow, _command(event))
            uow.commit()
    assert Dispatcher.from_container(debounced).dispatch_due() == 1, "no debounce: the link lapses"
    (email,) = transport.emails
    assert transport.sms == []
    assert email.to == "pat@example.com"
    assert email.subject == "Reset your password"
    assert email.text.startswith("Hello Pat,\n")
    assert f"Choose a new password here:\nhttp://127.0.0.1:8000/reset-password/{TOKEN}\n" in email.text
    assert "valid for 30 minutes and can be used once" in email.text
    assert f'<a href="http://127.0.0.1:8000/reset-password/{TOKEN}">Choose a new password</a>' in email.html
    assert email.calendar is None
    assert email.reply_to is None
    assert "None" not in email.text + email.html


def test_the_link_is_under_web_public_url_and_in_french_for_a_french_speaking_account(
    sqlite_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
    apply_to: Callable[..., None],
) -> None:
    container = bootstrap(
        make_settings(sqlite_url, WEB_PUBLIC_URL="https://portal.example/"),
        clock=clock,
        verifier=issuer.verifier(),
        mailer=transport,
        sms=transport,
    )
    try:
        apply_to(container, reset_requested(clock, language="fr", first_name="Léa", minutes=45))
        Dispatcher.from_container(container).dispatch_due()
    finally:
        container.engine.dispose()
    (email,) = transport.emails
    assert email.subject == "Réinitialisation de votre mot de passe"
    assert email.text.startswith("Bonjour Léa,\n")
    assert f"https://portal.example/reset-password/{TOKEN}\n" in email.text
    assert "Le lien est valable 45 minutes et ne peut servir qu\u2019une fois." in email.text
    assert email.language == "fr"


def test_a_staff_account_without_a_contact_copy_gets_its_link_too(
    container: Container, apply: Callable[..., None], transport: Any, clock: Any
) -> None:
    apply(reset_requested(clock, patient_id=None, email="desk@clinic.test", first_name=None))
    assert Dispatcher.from_container(container).dispatch_due() == 1
    (email,) = transport.emails
    assert email.to == "desk@clinic.test"
    assert email.text.startswith("Hello,\n")


def test_it_goes_whatever_the_patient_chose_for_other_messages(
    container: Container, apply: Callable[..., None], events: Any, transport: Any, clock: Any
) -> None:
    apply(*events.catalogue())
    with container.uow() as uow:
        contact = uow.repo.contact(events.patient_id)
        assert contact is not None
        contact.choose(clock.now(), email=False, sms=False, language="fr", promotional=False)
        uow.commit()
    # The account's own address and language (from the request) are used, not the contact copy's choices.
    apply(reset_requested(clock, patient_id=events.patient_id, email="new@example.com"))
    assert Dispatcher.from_container(container).dispatch_due() == 1
    (email,) = transport.emails
    assert (email.to, email.language) == ("new@example.com", "en")


def test_the_token_is_redacted_from_the_delivery_log_once_sent_and_stored_nowhere_else(
    container: Container, apply: Callable[..., None], transport: Any, clock: Any
) -> None:
    apply(reset_requested(clock))
    (pending,) = reset_deliveries(container)
    assert pending.payload is not None
    assert pending.payload["token"] == TOKEN, "kept while the message is still owed"
    assert TOKEN in stored_text(container), "the check below would see it"
    Dispatcher.from_container(container).dispatch_due()
    (sent,) = reset_deliveries(container)
    assert sent.status is DeliveryStatus.SENT
    assert sent.payload is not None
    assert sent.payload["token"] == "redacted"
    assert sent.clinic_id is None
    assert sent.channel is Channel.EMAIL
    assert TOKEN not in stored_text(container)


def test_a_link_that_expired_before_it_could_be_sent_is_skipped_and_redacted(
    container: Container, apply: Callable[..., None], transport: Any, clock: Any
) -> None:
    apply(reset_requested(clock))
    clock.advance(minutes=30)  # the dispatcher was down
    sender = Dispatcher.from_container(container)
    assert sender.dispatch_due() == 0
    assert sender.last_report.skipped == 1
    (skipped,) = reset_deliveries(container)
    assert (skipped.status, skipped.last_error) == (DeliveryStatus.SKIPPED, LINK_EXPIRED)
    assert transport.emails == []
    assert TOKEN not in stored_text(container)


def test_a_request_heard_of_after_its_link_expired_is_recorded_as_skipped(
    container: Container, apply: Callable[..., None], clock: Any
) -> None:
    event = reset_requested(clock)
    clock.advance(minutes=31)  # the consumer was behind
    apply(event)
    (skipped,) = reset_deliveries(container)
    assert (skipped.status, skipped.last_error) == (DeliveryStatus.SKIPPED, LINK_EXPIRED)
    assert TOKEN not in stored_text(container)


def test_the_token_is_kept_for_a_retry_and_redacted_once_the_message_finally_fails(
    container: Container, apply: Callable[..., None], transport: Any, clock: Any
) -> None:
    transport.failures = [transport.transient(), transport.permanent()]
    apply(reset_requested(clock))
    sender = Dispatcher.from_container(container)
    sender.dispatch_due()
    (retrying,) = reset_deliveries(container)
    assert retrying.status is DeliveryStatus.PENDING
    assert retrying.payload is not None
    assert retrying.payload["token"] == TOKEN
    clock.advance(minutes=1)
    sender.dispatch_due()
    (failed,) = reset_deliveries(container)
    assert failed.status is DeliveryStatus.FAILED
    assert TOKEN not in stored_text(container)
    assert transport.sms == [], "no fallback to SMS"


def test_the_token_never_reaches_the_logs(
    container: Container,
    apply: Callable[..., None],
    transport: Any,
    clock: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    transport.failures = [transport.transient()]
    apply(reset_requested(clock))
    sender = Dispatcher.from_container(container)
    sender.dispatch_due()
    clock.advance(minutes=1)
    sender.dispatch_due()
    assert len(transport.emails) == 1
    assert "password_reset" in caplog.text
    assert TOKEN not in caplog.text


def _command(event: Envelope) -> account_messages.RecordAccountMessage:
    data = event.data
    return account_messages.RecordAccountMessage(
        kind=DeliveryKind.PASSWORD_RESET,
        event_id=event.id,
        patient_id=data["patient_id"],
        email=data["email"],
        language=data["language"],
        first_name=data["first_name"],
        token=data["token"],
        requested_at=event.occurred_at,
        expires_at=data["expires_at"],
    )


@pytest.fixture
def apply_to() -> Callable[..., None]:
    """Apply events to a container of the test's own, each in its own transaction as the consumer does
    (without its inbox and broker)."""

    def run(container: Container, *events: Envelope) -> None:
        for event in events:
            with container.uow() as uow:
                HANDLERS[event.type](uow, event)
                uow.commit()

    return run
