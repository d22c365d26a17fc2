"""The body of each service's ``worker`` process: the outbox relay and the consumer, side by side.

SIGTERM/SIGINT set a shared stop event; every loop finishes what it holds (the consumer acks the message
in hand, the relay records the confirms it has) and returns. If one crashes, the others are stopped too
and the exit code is non-zero, so the process manager restarts a clean worker instead of a half-alive one.
Other loops with the same ``run(stop)`` shape (e.g. a notification dispatcher) join through ``extra``.
With a ``metrics_port`` the process's metrics (and ``metrics_collectors``, read at each scrape) are served
over HTTP for as long as the loops run (``metrics.serve_metrics``; names in docs/METRICS.md).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

from prometheus_client.registry import Collector

from clinic_shared.messaging.consumer import Consumer
from clinic_shared.messaging.metrics import serve_metrics
from clinic_shared.messaging.relay import OutboxRelay

log = logging.getLogger(__name__)

_JOIN_SLICE = 0.2

Loop = Callable[[threading.Event], None]


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
