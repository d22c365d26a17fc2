"""The body of each service's ``worker`` process: the outbox relay and the consumer, side by side.

SIGTERM/SIGINT set a shared stop event; every loop finishes what it holds (the consumer acks the message
in hand, the relay records the confirms it has) and returns. If one crashes, the others are stopped too
and the exit code is non-zero, so the process manager restarts a clean worker instead of a half-alive one.
Other loops with the same ``run(stop)`` shape (e.g. a notification dispatcher, or a ``PeriodicJob`` such as a
purge) join through ``extra``. With a ``metrics_port`` the process's metrics (and ``metrics_collectors``, read
at each scrape) are served over HTTP for as long as the loops run (``metrics.serve_metrics``; names in
docs/METRICS.md).

Each service's ``entrypoints/worker.py`` has the same shape: ``build_relay(container)`` and
``build_consumer(container, **options)`` bind ``relay_for`` and ``consumer_for`` to its own tables and
handlers, and ``run(container, *, stop, install_signal_handlers, on_processed)`` runs them with its jobs.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any, Protocol, TypeVar

from prometheus_client.registry import Collector
from sqlalchemy import Engine, Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from clinic_shared.clock import Clock
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.consumer import Consumer
from clinic_shared.messaging.metrics import serve_metrics
from clinic_shared.messaging.relay import OutboxRelay
from clinic_shared.messaging.topology import Subscription
from clinic_shared.settings import CommonSettings
from clinic_shared.uow import SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)

_JOIN_SLICE = 0.2

Loop = Callable[[threading.Event], None]
UoWT = TypeVar("UoWT", bound=SqlAlchemyUnitOfWork)
UoWT_co = TypeVar("UoWT_co", bound=SqlAlchemyUnitOfWork, covariant=True)


class _Settings(Protocol):
    @property
    def common(self) -> CommonSettings: ...


class WorkerContainer(Protocol[UoWT_co]):
    """What a service's container offers its worker (each service's ``bootstrap.Container`` does)."""

    @property
    def settings(self) -> _Settings: ...
    @property
    def session_factory(self) -> sessionmaker[Session]: ...
    @property
    def clock(self) -> Clock: ...
    def uow(self) -> UoWT_co: ...


def relay_for(container: WorkerContainer[Any], outbox: Table) -> OutboxRelay:
    """The relay of a service's outbox, as its settings say."""
    common = container.settings.common
    engine = container.session_factory.kw.get("bind")
    return OutboxRelay(
        container.session_factory,
        outbox,
        common.amqp_url,
        clock=container.clock,
        batch_size=common.relay_batch_size,
        # Woken by the outbox's insert notifications where the database sends them (PostgreSQL).
        wake_on=engine if isinstance(engine, Engine) and engine.dialect.name == "postgresql" else None,
    )


def consumer_for(
    container: WorkerContainer[UoWT],
    subscription: Subscription,
    handlers: Mapping[str, Callable[[UoWT, Any], None]],
    inbox: Table,
    *,
    amqp_url: str | None = None,
    **options: Any,
) -> Consumer[UoWT]:
    """The consumer of a service's subscription, as its settings say (``amqp_url`` overrides, in tests)."""
    common = container.settings.common
    return Consumer(
        subscription,
        handlers,
        container.uow,
        inbox,
        amqp_url or common.amqp_url,
        clock=container.clock,
        prefetch=common.consumer_prefetch,
        delivery_limit=common.delivery_limit,
        handler_threads=common.consumer_threads,
        batch_size=common.consumer_batch,
        **options,
    )


class PeriodicJob:
    """``run(stop)`` calls ``work`` at once and then every ``interval`` seconds until ``stop`` is set.

    A database error is logged by its type only and retried with backoff, so an outage neither stops the
    worker's other loops nor floods the log. ``work`` commits its own unit of work and should be safe in
    several workers at once (a unique key or a row lock, never "only one worker runs it").
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        *,
        interval: float,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self._work = work
        self._interval = interval
        self._backoff = backoff or Backoff(initial=1.0, cap=60.0)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._work()
            except SQLAlchemyError as exc:
                log.warning("%s: database error (%s); retrying", self.name, type(exc).__name__)
                self._backoff.wait(stop)
                continue
            self._backoff.reset()
            stop.wait(self._interval)


def run_worker(
    relay: OutboxRelay | None,
    consumer: Consumer[Any] | None,
    *,
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
    extra: Mapping[str, Loop] | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    metrics_collectors: Sequence[Collector] = (),
) -> int:
    """Run the given loops in threads until a signal (or ``stop``); returns 0, or 1 if one crashed."""
    stop = stop or threading.Event()
    failed: list[str] = []
    loops: dict[str, Loop] = {}
    if relay is not None:
        loops["outbox-relay"] = relay.run
    if consumer is not None:
        loops[f"consumer-{consumer.name}"] = consumer.run
    loops.update(extra or {})

    def guarded(name: str, run: Loop) -> Callable[[], None]:
        def body() -> None:
            try:
                run(stop)
            except BaseException:
                log.exception("worker: %s crashed; stopping the worker", name)
                failed.append(name)
                stop.set()

        return body

    threads = [threading.Thread(target=guarded(name, run), name=name) for name, run in loops.items()]

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("worker: %s received, stopping", signal.Signals(signum).name)
        stop.set()

    previous: dict[int, Any] = {}
    if install_signal_handlers and threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_signal)
    metrics_server = None
    try:
        metrics_server = serve_metrics(metrics_port, metrics_host, metrics_collectors)
        for thread in threads:
            thread.start()
        # Joining in slices keeps the main thread responsive to signals.
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=_JOIN_SLICE)
    finally:
        stop.set()
        if metrics_server is not None:
            metrics_server.close()
        for restored, handler in previous.items():
            signal.signal(restored, handler)
    log.info("worker: stopped")
    return 1 if failed else 0
