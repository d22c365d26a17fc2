"""The dispatcher loop: sends due deliveries, in the worker beside the consumer and the outbox relay.

Each pass claims a batch (committed before any transport is called), sends each message and records its
outcome; see ``dispatch.dispatch_due``. Between passes it sleeps ``poll_interval`` unless woken (the worker
wakes it when the consumer has recorded new deliveries). Database outages are waited out with backoff.
Several dispatchers may run at once: on PostgreSQL they claim disjoint rows (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from clinic_shared.messaging.connection import Backoff
from notifications.bootstrap import Container
from notifications.service_layer import dispatch
from notifications.service_layer.dispatch import DispatchPolicy, DispatchReport, Transports
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)

_WAIT_SLICE = 0.1


class Dispatcher:
    """Sends due deliveries: ``run(stop)`` loops until ``stop`` is set; ``dispatch_due`` makes one pass."""

    def __init__(
        self,
        uow_factory: Callable[[], NotificationsUnitOfWork],
        transports: Transports,
        policy: DispatchPolicy,
        *,
        batch_size: int = 20,
        poll_interval: float = 1.0,
        backoff: Backoff | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._uow_factory = uow_factory
        self._transports = transports
        self._policy = policy
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._backoff = backoff or Backoff(initial=0.5, cap=30.0)
        self._wake = threading.Event()
        self.last_report = DispatchReport()

    @classmethod
    def from_container(
        cls, container: Container, *, batch_size: int = 20, poll_interval: float = 1.0
    ) -> Dispatcher:
        return cls(
            container.uow,
            container.transports,
            container.policy,
            batch_size=batch_size,
            poll_interval=poll_interval,
        )

    def dispatch_due(self, limit: int | None = None) -> int:
        """One pass over at most ``limit`` due deliveries; returns how many were sent.

        The full report (retrying, failed, skipped, deferred) is kept in ``last_report``.
        """
        self.last_report = dispatch.dispatch_due(
            self._uow_factory, self._transports, self._policy, limit or self._batch_size
        )
        return self.last_report.sent

    def wake(self) -> None:
        """Ask a running dispatcher to look for due deliveries now (thread-safe)."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """Dispatch until ``stop`` is set, surviving database outages."""
        log.info("dispatcher: started")
        while not stop.is_set():
            try:
                self.dispatch_due()
            except SQLAlchemyError as exc:
                log.warning("dispatcher: database error (%s); retrying", type(exc).__name__)
                self._backoff.wait(stop)
                continue
            self._backoff.reset()
            if self.last_report.examined < self._batch_size:
                self._sleep(stop)
        log.info("dispatcher: stopped")

    def _sleep(self, stop: threading.Event) -> None:
        deadline = time.monotonic() + self._poll_interval
        while not stop.is_set() and not self._wake.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wake.wait(min(remaining, _WAIT_SLICE))
        self._wake.clear()
