"""Billing's worker process: consumes scheduling's events and relays billing's own outbox to RabbitMQ.

The outbox carries billing.invoice.issued, billing.payment.received and billing.credit_note.issued,
written by the API in the same transaction as the change they describe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from billing.adapters import orm
from billing.bootstrap import Container
from billing.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.events import Envelope
from clinic_shared.messaging.consumer import Consumer, Outcome
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import run_worker


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
    """Relay and consume until SIGTERM/SIGINT (or ``stop``); returns the process exit code."""
    return run_worker(
        build_relay(container),
        build_consumer(container, on_processed),
        stop=stop,
        install_signal_handlers=install_signal_handlers,
    )
