"""Billing's worker process: consumes scheduling's events and relays billing's own outbox to RabbitMQ.

The outbox carries billing.invoice.issued, billing.payment.received and billing.credit_note.issued,
written by the API in the same transaction as the change they describe. Beside them, a housekeeping
loop purges Idempotency-Keys older than IDEMPOTENCY_KEY_RETENTION_HOURS once an hour.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from billing.adapters import orm
from billing.bootstrap import Container
from billing.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from billing.service_layer import idempotency_keys
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.events import Envelope
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.consumer import Consumer, Outcome
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import run_worker

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


class IdempotencyKeyPurger:
    """``run(stop)`` purges expired Idempotency-Keys every ``interval`` seconds; outages are waited out."""

    def __init__(
        self,
        uow_factory: Callable[[], BillingUnitOfWork],
        retention: timedelta,
        *,
        interval: float = PURGE_INTERVAL_SECONDS,
    ) -> None:
        self._uow_factory = uow_factory
        self._retention = retention
        self._interval = interval
        self._backoff = Backoff(initial=1.0, cap=60.0)

    def purge(self) -> int:
        return idempotency_keys.purge_idempotency_keys(self._uow_factory, self._retention)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                purged = self.purge()
            except SQLAlchemyError as exc:
                log.warning("idempotency purge: database error (%s); retrying", type(exc).__name__)
                self._backoff.wait(stop)
                continue
            self._backoff.reset()
            if purged:
                log.info("idempotency purge: deleted %d expired key(s)", purged)
            stop.wait(self._interval)


def build_purger(container: Container) -> IdempotencyKeyPurger:
    retention = timedelta(hours=container.settings.idempotency_key_retention_hours)
    return IdempotencyKeyPurger(container.uow, retention)


def build_relay(container: Container) -> OutboxRelay:
    common = container.settings.common
    return OutboxRelay(
        container.session_factory,
        orm.outbox,
        common.amqp_url,
        clock=container.clock,
        batch_size=common.relay_batch_size,
    )


def build_consumer(
    container: Container, on_processed: Callable[[Envelope | None, Outcome], None] | None = None
) -> Consumer[BillingUnitOfWork]:
    common = container.settings.common
    return Consumer(
        SUBSCRIPTION,
        HANDLERS,
        container.uow,
        orm.inbox,
        common.amqp_url,
        clock=container.clock,
        prefetch=common.consumer_prefetch,
        delivery_limit=common.delivery_limit,
        on_processed=on_processed,
    )


def run(
    container: Container,
    *,
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
    on_processed: Callable[[Envelope | None, Outcome], None] | None = None,
) -> int:
    """Relay, consume and purge until SIGTERM/SIGINT (or ``stop``); returns the process exit code."""
    return run_worker(
        build_relay(container),
        build_consumer(container, on_processed),
        stop=stop,
        install_signal_handlers=install_signal_handlers,
        metrics_port=container.settings.common.metrics_port,
        metrics_host=container.settings.common.metrics_host,
        extra={"idempotency-purge": build_purger(container).run},
    )
