"""The worker wiring: relay, consumer and dispatcher handed to the shared worker runner."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from clinic_shared.messaging.consumer import Consumer
from clinic_shared.messaging.relay import OutboxRelay
from notifications.bootstrap import Container
from notifications.entrypoints import worker


def test_runs_relay_consumer_dispatcher_and_agenda_side_by_side(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any, dict[str, Any]]] = []

    def fake_run_worker(relay: Any, consumer: Any, **kwargs: Any) -> int:
        calls.append((relay, consumer, kwargs))
        return 0

    monkeypatch.setattr(worker, "run_worker", fake_run_worker)
    assert worker.run(container) == 0
    ((relay, consumer, kwargs),) = calls
    assert isinstance(relay, OutboxRelay)
    assert isinstance(consumer, Consumer)
    assert consumer.name == "notifications"
    assert set(kwargs) == {
        "stop",
        "install_signal_handlers",
        "extra",
        "metrics_port",
        "metrics_host",
        "metrics_collectors",
    }
    common = container.settings.common
    assert (kwargs["metrics_port"], kwargs["metrics_host"]) == (common.metrics_port, common.metrics_host)
    assert [type(c) for c in kwargs["metrics_collectors"]] == [worker.DeliveryLagCollector]
    assert set(kwargs["extra"]) == {"dispatcher", "agenda"}
    stop = threading.Event()
    stop.set()
    kwargs["extra"]["dispatcher"](stop)  # a stopped loop returns at once
    kwargs["extra"]["agenda"](stop)
