"""Notifications' worker process: the consumer records deliveries, the dispatcher sends them, the agenda
loop records practitioners' daily agendas, and the outbox relay publishes notifications' own events, each in
its own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clinic_shared.events import Envelope
from clinic_shared.messaging.consumer import Consumer, Outcome
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import run_worker
from notifications.adapters import orm
from notifications.bootstrap import Container
from notifications.entrypoints.agenda import AgendaScheduler
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


def build_consumer(
    container: Container,
    *,
    amqp_url: str | None = None,
    on_processed: Callable[[Envelope | None, Outcome], None] | None = None,
    **kwargs: Any,
) -> Consumer[NotificationsUnitOfWork]:
    """The consumer of scheduling's events (``amqp_url`` overrides the settings, e.g. in tests)."""
    common = container.settings.common
    return Consumer(
        SUBSCRIPTION,
        HANDLERS,
        container.uow,
        orm.inbox,
        amqp_url or common.amqp_url,
        clock=container.clock,
        prefetch=common.consumer_prefetch,
        delivery_limit=common.delivery_limit,
        on_processed=on_processed,
        **kwargs,
    )


def build_relay(container: Container) -> OutboxRelay:
    common = container.settings.common
    return OutboxRelay(
        container.session_factory,
        orm.outbox,
        common.amqp_url,
        clock=container.clock,
        batch_size=common.relay_batch_size,
    )


def run(container: Container) -> int:
    """Run consumer, dispatcher and relay until SIGTERM/SIGINT; returns the process exit code."""
    dispatcher = Dispatcher.from_container(container)

    def wake_dispatcher(_envelope: Envelope | None, outcome: Outcome) -> None:
        if outcome == "applied":
            dispatcher.wake()

    consumer = build_consumer(container, on_processed=wake_dispatcher)
    agenda = AgendaScheduler(container.uow, container.settings.agenda_time, on_recorded=dispatcher.wake)
    return run_worker(
        build_relay(container), consumer, extra={"dispatcher": dispatcher.run, "agenda": agenda.run}
    )
