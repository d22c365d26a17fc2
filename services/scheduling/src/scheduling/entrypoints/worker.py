"""Scheduling's worker process: relays the outbox, consumes notifications' confirmations, expires offers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from clinic_shared.events import Envelope
from clinic_shared.messaging.consumer import Consumer, Outcome
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import run_worker
from scheduling.adapters import orm
from scheduling.bootstrap import Container
from scheduling.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from scheduling.service_layer import waitlist


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
) -> Consumer[Any]:
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


WAITLIST_SWEEP_SECONDS = 30.0

log = logging.getLogger(__name__)


def waitlist_sweeper(container: Container) -> Callable[[threading.Event], None]:
    """A loop releasing expired waitlist holds (and offering them on) until the worker stops."""

    def loop(stop: threading.Event) -> None:
        while not stop.wait(WAITLIST_SWEEP_SECONDS):
            try:
                with container.uow() as uow:
                    waitlist.expire_offers(uow)
            except SQLAlchemyError as error:
                # A database hiccup must not stop the relay and consumer; the next sweep retries.
                log.warning("waitlist sweep failed: %s", type(error).__name__)

    return loop


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
        metrics_port=container.settings.common.metrics_port,
        metrics_host=container.settings.common.metrics_host,
        extra={"waitlist-sweeper": waitlist_sweeper(container)},
    )
