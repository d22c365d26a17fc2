"""Scheduling's worker process: relays the outbox, consumes notifications' confirmations, expires offers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from clinic_shared.events import Envelope
from clinic_shared.messaging.consumer import Consumer, Outcome
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import PeriodicJob, consumer_for, relay_for, run_worker
from scheduling.adapters import orm
from scheduling.bootstrap import Container
from scheduling.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from scheduling.service_layer import waitlist

WAITLIST_SWEEP_SECONDS = 30.0


def build_relay(container: Container) -> OutboxRelay:
    return relay_for(container, orm.outbox)


def build_consumer(container: Container, **options: Any) -> Consumer[Any]:
    return consumer_for(container, SUBSCRIPTION, HANDLERS, orm.inbox, **options)


def waitlist_sweep(container: Container) -> PeriodicJob:
    """Releases expired waitlist holds and offers them on (a row lock per entry: safe in several workers)."""

    def sweep() -> None:
        with container.uow() as uow:
            waitlist.expire_offers(uow)
            uow.commit()

    return PeriodicJob("waitlist sweep", sweep, interval=WAITLIST_SWEEP_SECONDS)


def run(
    container: Container,
    *,
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
    on_processed: Callable[[Envelope | None, Outcome], None] | None = None,
) -> int:
    """Relay, consume and sweep until SIGTERM/SIGINT (or ``stop``); returns the process exit code."""
    return run_worker(
        build_relay(container),
        build_consumer(container, on_processed=on_processed),
        stop=stop,
        install_signal_handlers=install_signal_handlers,
        metrics_port=container.settings.common.metrics_port,
        metrics_host=container.settings.common.metrics_host,
        extra={"waitlist-sweep": waitlist_sweep(container).run},
    )
