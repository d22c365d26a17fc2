"""The dispatcher loop: sends due deliveries, in the worker beside the consumer and the outbox relay.

Each pass claims a batch and commits the claims before any transport is called, then sends each message
and commits its outcome on its own (the steps are ``dispatch.claim_due``, ``send`` and ``record_outcome``;
this loop owns their transactions). Between passes it sleeps ``poll_interval`` unless woken (the worker
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
from notifications.domain.deliveries import DeliveryStatus
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
        self.last_report = self._dispatch_pass(limit or self._batch_size)
        return self.last_report.sent

    def _dispatch_pass(self, limit: int) -> DispatchReport:
        """Claim due deliveries and commit the claims (before anything is sent); then send each claimed
        message, outside any transaction, and record and commit each outcome in a transaction of its own."""
        with self._uow_factory() as uow:
            report = dispatch.claim_due(uow, self._policy, limit)
            uow.commit()
        try:
            for claim in report.claims:
                outcome = dispatch.send(claim, self._transports)
                with self._uow_factory() as uow:
                    status = dispatch.record_outcome(uow, claim, outcome, self._policy)
                    uow.commit()
                if status is DeliveryStatus.SENT:
                    report.sent += 1
                elif status is DeliveryStatus.PENDING:
                    report.retrying += 1
                elif status is DeliveryStatus.FAILED:
                    report.failed += 1
        finally:
            # One SMTP connection serves the pass's e-mails; none is held while the dispatcher idles.
            self._transports.mailer.close()
        return report

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
