"""Notifications' worker process: the consumer records deliveries, the dispatcher sends them, the agenda
loop records practitioners' daily agendas, and the outbox relay publishes notifications' own events, each in
its own thread.

With ``METRICS_PORT`` (or ``NOTIFICATIONS_METRICS_PORT``) set it serves its metrics (docs/METRICS.md): the
shared relay and consumer figures, plus ``deliveries_sent_total{channel}`` and
``delivery_failures_total{channel}`` counted at the transports' boundary (the service layer and domain
know nothing of them), and ``reminder_lag_seconds`` / ``deliveries_due_unsent`` read from the database
at each scrape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from clinic_shared.clock import Clock
from clinic_shared.events import Envelope
from clinic_shared.messaging.consumer import Consumer, Outcome
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.worker import consumer_for, relay_for, run_worker
from notifications.adapters import orm
from notifications.bootstrap import Container
from notifications.domain.channels import Channel
from notifications.domain.composition import Notice
from notifications.domain.deliveries import DeliveryStatus
from notifications.entrypoints.agenda import AgendaScheduler
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from notifications.service_layer.dispatch import Transports
from notifications.service_layer.ports import (
    Mailer,
    MessageRenderer,
    OutgoingEmail,
    OutgoingSms,
    SmsSender,
)
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)

DELIVERIES_SENT = Counter(
    "deliveries_sent_total", "Messages a transport accepted (SMTP, SMS provider), by channel", ["channel"]
)
DELIVERY_FAILURES = Counter(
    "delivery_failures_total",
    "Send attempts that failed (rendering or transport; retried or given up), by channel",
    ["channel"],
)


class _CountingRenderer:
    """A renderer whose failures (a template bug, say) count as failed deliveries of their channel."""

    def __init__(self, inner: MessageRenderer) -> None:
        self._inner = inner

    def email(self, notice: Notice) -> OutgoingEmail:
        try:
            return self._inner.email(notice)
        except Exception:
            DELIVERY_FAILURES.labels(Channel.EMAIL.value).inc()
            raise

    def sms(self, notice: Notice) -> OutgoingSms:
        try:
            return self._inner.sms(notice)
        except Exception:
            DELIVERY_FAILURES.labels(Channel.SMS.value).inc()
            raise


class _CountingMailer:
    def __init__(self, inner: Mailer) -> None:
        self._inner = inner

    def send(self, email: OutgoingEmail) -> str | None:
        return _counted(Channel.EMAIL, lambda: self._inner.send(email))

    def close(self) -> None:
        self._inner.close()


class _CountingSms:
    def __init__(self, inner: SmsSender) -> None:
        self._inner = inner

    def send(self, sms: OutgoingSms) -> str | None:
        return _counted(Channel.SMS, lambda: self._inner.send(sms))


def _counted(channel: Channel, send: Callable[[], str | None]) -> str | None:
    try:
        provider_id = send()
    except Exception:
        DELIVERY_FAILURES.labels(channel.value).inc()
        raise
    DELIVERIES_SENT.labels(channel.value).inc()
    return provider_id


def counted(transports: Transports) -> Transports:
    """The same transports, counting each send's outcome per channel."""
    return Transports(
        renderer=_CountingRenderer(transports.renderer),
        mailer=_CountingMailer(transports.mailer),
        sms=_CountingSms(transports.sms),
    )


class DeliveryLagCollector(Collector):
    """How far behind the dispatcher is, read at scrape time: pending deliveries already due, and how long
    ago the oldest of them fell due (0 when none). Deliveries waiting out a retry delay or for reference
    details are not due yet; a reminder is a delivery like any other here."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        t = orm.deliveries
        now = self._clock.now()
        due = (t.c.status == DeliveryStatus.PENDING) & (t.c.next_attempt_at <= now)
        try:
            with self._engine.connect() as connection:
                count, oldest = connection.execute(
                    select(func.count(), func.min(t.c.next_attempt_at)).where(due)
                ).one()
        except SQLAlchemyError as exc:
            # The rest of the scrape still answers; these series go missing until the database is back.
            log.warning("metrics: could not read the deliveries' lag (%s)", type(exc).__name__)
            return
        yield _gauge("deliveries_due_unsent", "Pending deliveries whose send time has come", float(count))
        yield _gauge(
            "reminder_lag_seconds",
            "Seconds since the oldest pending due delivery (reminders included) fell due (0 when none)",
            _seconds_since(now, oldest),
        )

    def describe(self) -> Iterator[Metric]:
        yield _gauge("deliveries_due_unsent", "", 0.0)
        yield _gauge("reminder_lag_seconds", "", 0.0)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _seconds_since(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # SQLite hands back naive UTC
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())


def build_consumer(container: Container, **options: Any) -> Consumer[NotificationsUnitOfWork]:
    return consumer_for(container, SUBSCRIPTION, HANDLERS, orm.inbox, **options)


def build_relay(container: Container) -> OutboxRelay:
    return relay_for(container, orm.outbox)


def run(
    container: Container,
    *,
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
    on_processed: Callable[[Envelope | None, Outcome], None] | None = None,
) -> int:
    """Consume, send, record agendas and relay until SIGTERM/SIGINT (or ``stop``); returns the exit code."""
    dispatcher = Dispatcher(container.uow, counted(container.transports), container.policy)

    def wake_dispatcher(envelope: Envelope | None, outcome: Outcome) -> None:
        if outcome == "applied":
            dispatcher.wake()
        if on_processed is not None:
            on_processed(envelope, outcome)

    agenda = AgendaScheduler(container.uow, container.settings.agenda_time, on_recorded=dispatcher.wake)
    common = container.settings.common
    return run_worker(
        build_relay(container),
        build_consumer(container, on_processed=wake_dispatcher),
        stop=stop,
        install_signal_handlers=install_signal_handlers,
        extra={"dispatcher": dispatcher.run, "agenda": agenda.job().run},
        metrics_port=common.metrics_port,
        metrics_host=common.metrics_host,
        metrics_collectors=[DeliveryLagCollector(container.engine, container.clock)],
    )
