"""Billing's worker process: consumes scheduling's events and relays billing's own outbox to RabbitMQ.

The outbox carries billing.invoice.issued, billing.payment.received and billing.credit_note.issued,
written by the API in the same transaction as the change they describe. Beside them, a periodic job
purges Idempotency-Keys older than IDEMPOTENCY_KEY_RETENTION_HOURS once an hour.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from billing.adapters import orm
from billing.bootstrap import Container
from billing.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from billing.service_layer import idempotency_keys
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.events import Envelope
from clinic_shared.messaging.consumer import Consumer, Outcome
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import PeriodicJob, consumer_for, relay_for, run_worker

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


def build_relay(container: Container) -> OutboxRelay:
    return relay_for(container, orm.outbox)


def build_consumer(container: Container, **options: Any) -> Consumer[BillingUnitOfWork]:
    return consumer_for(container, SUBSCRIPTION, HANDLERS, orm.inbox, **options)


def idempotency_purge(
    uow_factory: Callable[[], BillingUnitOfWork],
    retention: timedelta,
    *,
    interval: float = PURGE_INTERVAL_SECONDS,
) -> PeriodicJob:
    """Deletes expired Idempotency-Keys in short batches (two workers at once delete each key once)."""

    def purge() -> None:
        purged = idempotency_keys.purge_idempotency_keys(uow_factory, retention)
        if purged:
            log.info("idempotency purge: deleted %d expired key(s)", purged)

    return PeriodicJob("idempotency purge", purge, interval=interval)


def run(
    container: Container,
    *,
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
    on_processed: Callable[[Envelope | None, Outcome], None] | None = None,
) -> int:
    """Relay, consume and purge until SIGTERM/SIGINT (or ``stop``); returns the process exit code."""
    retention = timedelta(hours=container.settings.idempotency_key_retention_hours)
    return run_worker(
        build_relay(container),
        build_consumer(container, on_processed=on_processed),
        stop=stop,
        install_signal_handlers=install_signal_handlers,
        metrics_port=container.settings.common.metrics_port,
        metrics_host=container.settings.common.metrics_host,
        extra={"idempotency-purge": idempotency_purge(container.uow, retention).run},
    )
