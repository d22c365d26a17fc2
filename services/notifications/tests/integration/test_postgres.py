"""Notifications on a real PostgreSQL: migrations, the unique delivery key, and concurrent dispatchers."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import event as sa_event
from sqlalchemy import exc, insert, inspect, select

from clinic_shared.db import constraint_name, is_conflict, make_engine
from clinic_shared.events import Envelope
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.tokens import TestIssuer
from notifications.adapters import orm
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.deliveries import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.cli import main
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS
from notifications.service_layer.dispatch import Claim, DispatchPolicy, claim_due

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_container(
    pg_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: Any,
    issuer: TestIssuer,
    transport: Any,
    policy: DispatchPolicy,
) -> Iterator[Container]:
    container = bootstrap(
        make_settings(pg_url),
        clock=clock,
        verifier=issuer.verifier(),
        mailer=transport,
        sms=transport,
        policy=policy,
    )
    yield container
    container.engine.dispose()


def apply(container: Container, *events: Envelope) -> None:
    for event in events:
        with container.uow() as uow:
            HANDLERS[event.type](uow, event)
            uow.commit()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_migrations_match_the_models(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), orm.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_migrate_command_works_on_postgresql() -> None:
    with temporary_database("notifications_cli") as url:
        result = CliRunner().invoke(main, ["migrate"], env={"NOTIFICATIONS_DATABASE_URL": url})
        assert result.exit_code == 0, result.output
        engine = make_engine(url)
        try:
            assert "deliveries" in inspect(engine).get_table_names()
        finally:
            engine.dispose()


def test_the_database_refuses_a_second_delivery_with_the_same_key(
    pg_container: Container, events: Any
) -> None:
    apply(pg_container, events.booked())
    with pg_container.engine.connect() as connection:
        row = dict(connection.execute(select(orm.deliveries).limit(1)).mappings().one())
        with pytest.raises(exc.IntegrityError) as caught:
            connection.execute(insert(orm.deliveries).values(row | {"id": uuid.uuid4()}))
    assert is_conflict(caught.value)
    assert constraint_name(caught.value) == "uq_deliveries_key"


def test_concurrent_dispatchers_send_each_delivery_exactly_once(
    pg_container: Container, events: Any, transport: Any
) -> None:
    apply(pg_container, *events.catalogue(phone=None))
    for day in range(30):
        starts_at = datetime(2025, 4, 1, 16, tzinfo=UTC) + timedelta(days=day)
        apply(pg_container, events.booked(appointment_id=uuid.uuid4(), starts_at=starts_at))
    transport.on_send = lambda _message: time.sleep(0.005)  # widen the window for double sends
    dispatchers = [Dispatcher.from_container(pg_container, batch_size=4) for _ in range(4)]
    start = threading.Barrier(len(dispatchers))
    errors: list[BaseException] = []

    def drain(dispatcher: Dispatcher) -> None:
        try:
            start.wait()
            while True:
                dispatcher.dispatch_due()
                if dispatcher.last_report.examined == 0:
                    return
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=drain, args=(d,)) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors

    sent_ids = [email.message_id for email in transport.emails]
    assert len(sent_ids) == 30
    assert len(set(sent_ids)) == 30
    with pg_container.uow() as uow:
        stored = list(uow.session.scalars(select(Delivery).where(Delivery.kind != DeliveryKind.REMINDER)))
    assert {(d.status, d.attempts) for d in stored} == {(DeliveryStatus.SENT, 1)}
    assert {d.message_id for d in stored} == set(sent_ids)


def test_a_reminder_falling_due_while_its_appointment_is_being_cancelled_is_not_sent_and_logged_skipped(
    pg_container: Container, events: Any, clock: Any, transport: Any
) -> None:
    """The consumer recording a cancellation and the dispatcher claiming the appointment's reminder run at
    once (the reminder falls due meanwhile): the reminder is either skipped and never sent, or sent and
    logged as sent, never sent and then logged as skipped."""
    starts_at = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)
    apply(pg_container, *events.catalogue(phone=None), events.booked(starts_at=starts_at))
    dispatcher = Dispatcher.from_container(pg_container)
    assert dispatcher.dispatch_due() == 1  # the confirmation
    clock.set(starts_at - timedelta(hours=47))  # the e-mail reminder, 48 h before, is due
    cancellation = events.cancelled(starts_at=starts_at)
    read, resume = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with pg_container.uow() as uow:
                reading = uow.repo.deliveries_for_appointment

                def read_then_pause(*args: Any, **kwargs: Any) -> Any:
                    found = reading(*args, **kwargs)
                    read.set()
                    resume.wait(10)
                    return found

                uow.repo.deliveries_for_appointment = read_then_pause  # type: ignore[method-assign]
                HANDLERS[cancellation.type](uow, cancellation)
                uow.commit()
        except BaseException as error:
            errors.append(error)

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        assert read.wait(10), "the consumer never read the appointment's messages"
        dispatcher.dispatch_due()  # the reminder is due; the cancellation is not committed yet
    finally:
        resume.set()
        consumer.join(30)
    assert not errors
    reminders = [e for e in transport.emails if e.subject.startswith("Reminder of")]
    with pg_container.uow() as uow:
        (reminder,) = [d for d in uow.repo.deliveries_for_appointment(events.appointment_id) if d.is_reminder]
    assert (reminder.status, reminder.attempts, len(reminders)) == (DeliveryStatus.SKIPPED, 0, 0)


REFERENCE_SELECT = re.compile(
    r"^\s*SELECT\b.*\bFROM (contacts|clinics|practitioners|treatment_types)\b", re.DOTALL
)


def test_a_dispatch_pass_reads_the_reference_copies_once_however_many_deliveries_it_claims(
    pg_container: Container, events: Any, transport: Any
) -> None:
    apply(pg_container, *events.catalogue(phone=None))
    patients = 12
    for day in range(patients):  # one patient each, so no copy is shared between deliveries
        events.patient_id = uuid.uuid4()
        starts_at = datetime(2025, 3, 10, 16, tzinfo=UTC) + timedelta(days=day)
        apply(
            pg_container,
            events.patient_registered(email=f"patient{day}@example.com", phone=None),
            events.booked(appointment_id=uuid.uuid4(), starts_at=starts_at),
        )
    reference_selects: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if REFERENCE_SELECT.match(statement):
            reference_selects.append(statement)

    sa_event.listen(pg_container.engine, "before_cursor_execute", count)
    try:
        sent = Dispatcher.from_container(pg_container, batch_size=patients).dispatch_due()
    finally:
        sa_event.remove(pg_container.engine, "before_cursor_execute", count)
    assert sent == patients
    assert sorted(email.to for email in transport.emails) == sorted(
        f"patient{day}@example.com" for day in range(patients)
    )
    assert len(reference_selects) <= 4  # one per kind of copy, not one per delivery


def claim_one(container: Container) -> Claim:
    with container.uow() as uow:
        report = claim_due(uow, container.policy, 10)
        uow.commit()
    (claim,) = report.claims
    return claim


def stored(container: Container, delivery_id: uuid.UUID) -> tuple[Delivery, list[DeliveryAttempt]]:
    with container.uow() as uow:
        delivery = uow.repo.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery, list(uow.repo.attempts_of([delivery_id]))


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_finishing_a_claim_writes_what_the_outcome_changed_and_leaves_the_rest_of_the_row(
    backend: str, request: pytest.FixtureRequest, events: Any, clock: Any
) -> None:
    container = request.getfixturevalue("pg_container" if backend == "postgresql" else "container")
    apply(container, *events.catalogue(phone=None), events.booked())
    claim = claim_one(container)
    clock.advance(seconds=3)
    with container.uow() as uow:  # meanwhile the provider's status callback wrote to the row
        delivery = uow.repo.delivery_for_update(claim.delivery_id)
        assert delivery is not None
        delivery.provider_status = "queued"
        uow.commit()
    finished, attempt = replace(claim.delivery), replace(claim.opened)
    finished.mark_sent(clock.now(), "mail-1")
    attempt.finish(clock.now(), AttemptOutcome.SENT, provider_message_id="mail-1", detail=None)
    statements: list[str] = []
    listener = lambda _conn, _cursor, statement, *_args: statements.append(statement)  # noqa: E731
    sa_event.listen(container.engine, "before_cursor_execute", listener)
    try:
        with container.uow() as uow:
            assert uow.repo.finish_claim(claim.delivery, finished, attempt) is True
            uow.commit()
    finally:
        sa_event.remove(container.engine, "before_cursor_execute", listener)

    # No read of the row, no ORM flush: one statement on PostgreSQL, an update of each table on SQLite.
    writes = [statement for statement in statements if "deliver" in statement]
    assert len(writes) == (1 if backend == "postgresql" else 2)
    delivery, attempts = stored(container, claim.delivery_id)
    assert (delivery.status, delivery.attempts, delivery.provider_message_id, delivery.sent_at) == (
        DeliveryStatus.SENT,
        1,
        "mail-1",
        clock.now(),
    )
    assert (delivery.updated_at, delivery.recipient, delivery.provider_status) == (
        clock.now(),
        "pat@example.com",
        "queued",
    )
    assert [(a.id, a.number, a.outcome, a.finished_at, a.provider_message_id) for a in attempts] == [
        (claim.opened.id, 1, AttemptOutcome.SENT, clock.now(), "mail-1")
    ]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_claim_taken_over_meanwhile_is_not_finished(
    backend: str, request: pytest.FixtureRequest, events: Any, clock: Any
) -> None:
    container = request.getfixturevalue("pg_container" if backend == "postgresql" else "container")
    apply(container, *events.catalogue(phone=None), events.booked())
    first = claim_one(container)
    clock.advance(container.policy.stale_after)  # its dispatcher is presumed dead: claimed again
    second = claim_one(container)
    assert (second.delivery_id, second.attempt) == (first.delivery_id, 2)
    finished, attempt = replace(first.delivery), replace(first.opened)
    finished.mark_sent(clock.now(), "mail-1")
    attempt.finish(clock.now(), AttemptOutcome.SENT, provider_message_id="mail-1", detail=None)
    with container.uow() as uow:
        assert uow.repo.finish_claim(first.delivery, finished, attempt) is False
        uow.commit()

    delivery, attempts = stored(container, first.delivery_id)
    assert (delivery.status, delivery.attempts, delivery.provider_message_id) == (
        DeliveryStatus.SENDING,
        2,
        None,
    )
    assert [(a.number, a.outcome) for a in attempts] == [
        (1, AttemptOutcome.INTERRUPTED),
        (2, AttemptOutcome.SENDING),
    ]


def test_one_pass_records_sent_retrying_and_failed_outcomes_each_on_its_claim(
    pg_container: Container, events: Any, transport: Any, clock: Any
) -> None:
    apply(pg_container, *events.catalogue(phone=None))
    for day in range(3):
        starts_at = datetime(2025, 3, 10, 16, tzinfo=UTC) + timedelta(days=day)
        apply(pg_container, events.booked(appointment_id=uuid.uuid4(), starts_at=starts_at))
    transport.failures.extend([transport.transient(), transport.permanent()])
    dispatcher = Dispatcher.from_container(pg_container)
    assert dispatcher.dispatch_due() == 1
    assert (dispatcher.last_report.retrying, dispatcher.last_report.failed) == (1, 1)

    policy = pg_container.policy
    with pg_container.uow() as uow:
        query = select(Delivery).where(orm.deliveries.c.kind == DeliveryKind.BOOKING_CONFIRMATION)
        by_status = {d.status: d for d in uow.session.scalars(query)}
        logged = {a.delivery_id: a for a in uow.repo.attempts_of([d.id for d in by_status.values()])}
    sent, retrying, failed = (
        by_status[s] for s in (DeliveryStatus.SENT, DeliveryStatus.PENDING, DeliveryStatus.FAILED)
    )
    assert (sent.attempts, sent.provider_message_id, sent.last_error, sent.sent_at) == (
        1,
        "mail-1",
        None,
        clock.now(),
    )
    assert (retrying.attempts, retrying.last_error, retrying.next_attempt_at, retrying.sent_at) == (
        1,
        "SMTP server unavailable (TimeoutError)",
        clock.now() + policy.retry_delay(1),
        None,
    )
    assert (failed.attempts, failed.last_error, failed.sent_at) == (1, "SMTP recipient refused (550)", None)
    assert {d.id: (logged[d.id].outcome, logged[d.id].detail) for d in (sent, retrying, failed)} == {
        sent.id: (AttemptOutcome.SENT, None),
        retrying.id: (AttemptOutcome.FAILED, "SMTP server unavailable (TimeoutError)"),
        failed.id: (AttemptOutcome.FAILED, "SMTP recipient refused (550)"),
    }
    assert {a.finished_at for a in logged.values()} == {clock.now()}

    clock.advance(policy.retry_delay(1))  # the retry goes out; the failed one stays failed
    assert dispatcher.dispatch_due() == 1
    retried, attempts = stored(pg_container, retrying.id)
    assert (retried.status, retried.attempts, retried.last_error) == (DeliveryStatus.SENT, 2, None)
    assert [(a.number, a.outcome) for a in attempts] == [(1, AttemptOutcome.FAILED), (2, AttemptOutcome.SENT)]
