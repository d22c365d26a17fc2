"""Competing consumers (several notifications workers on one queue) may handle two events of one appointment
at the same moment, each in its own transaction: the newer version must win whichever commits last.

On real PostgreSQL: a cancellation (the newer version) is recorded but not yet committed when an older
reschedule is handled. The reschedule waited for the cancellation's lock on the appointment's deliveries,
but its read could not see the deliveries the cancellation had inserted meanwhile, so it recorded a
"rescheduled" message (and reminders) for a cancelled appointment as pending: the patient would have been
told of a new time after the cancellation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clinic_shared.events import Envelope
from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.deliveries import DeliveryStatus
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS
from notifications.service_layer.dispatch import DispatchPolicy

pytestmark = pytest.mark.integration

# Long enough for the older event's transaction to reach the appointment while the newer one holds it.
OVERLAP = 0.5
STARTS_AT = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)


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


def apply(container: Container, event: Envelope) -> None:
    with container.uow() as uow:
        HANDLERS[event.type](uow, event)
        uow.commit()


def test_an_older_reschedule_handled_alongside_a_newer_cancellation_records_nothing_to_send(
    pg_container: Container, events: Any
) -> None:
    for event in (*events.catalogue(phone=None), events.booked(starts_at=STARTS_AT, sequence=0)):
        apply(pg_container, event)
    assert Dispatcher.from_container(pg_container).dispatch_due() == 1  # the confirmation went out
    cancellation = events.cancelled(starts_at=STARTS_AT, sequence=2)
    reschedule = events.rescheduled(
        starts_at=STARTS_AT + timedelta(days=1), previous_starts_at=STARTS_AT, sequence=1
    )
    errors: list[BaseException] = []

    def handle_older() -> None:
        try:
            apply(pg_container, reschedule)
        except BaseException as exc:
            errors.append(exc)

    with pg_container.uow() as uow:
        HANDLERS[cancellation.type](uow, cancellation)
        # Recorded but not committed (the consumer commits after the handler): the older event is handled
        # meanwhile.
        uow.flush()
        rival = threading.Thread(target=handle_older)
        rival.start()
        time.sleep(OVERLAP)
        uow.commit()
    rival.join(timeout=30)
    assert not rival.is_alive()
    assert errors == []

    with pg_container.uow() as uow:
        copy = uow.repo.appointment(events.appointment_id)
        assert copy is not None
        assert (copy.sequence, copy.cancelled, copy.starts_at) == (2, True, STARTS_AT)
        deliveries = uow.repo.deliveries_for_appointment(events.appointment_id)
        pending = [(d.kind, d.sequence) for d in deliveries if d.status is DeliveryStatus.PENDING]
    # Only the cancellation may still go out; nothing about the older version.
    assert {sequence for _, sequence in pending} <= {2}
