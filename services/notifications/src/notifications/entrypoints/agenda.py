"""The agenda loop, in the worker beside the dispatcher: records practitioners' daily agendas when due.

Each pass is ``agenda.record_daily_agendas`` in one unit of work; the unique key makes passes idempotent,
so running it every minute (or in several workers) records each agenda once. Database outages are waited
out with backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import time

from sqlalchemy.exc import SQLAlchemyError

from clinic_shared.messaging.connection import Backoff
from notifications.service_layer import agenda
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)


class AgendaScheduler:
    """``run(stop)`` records due agendas every ``interval`` seconds and calls ``on_recorded`` when it did."""

    def __init__(
        self,
        uow_factory: Callable[[], NotificationsUnitOfWork],
        agenda_time: time,
        *,
        interval: float = 60.0,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._agenda_time = agenda_time
        self._interval = interval
        self._on_recorded = on_recorded
        self._backoff = Backoff(initial=1.0, cap=60.0)

    def record_due(self) -> int:
        with self._uow_factory() as uow:
            recorded = agenda.record_daily_agendas(uow, self._agenda_time)
        if recorded and self._on_recorded is not None:
            self._on_recorded()
        return recorded

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                recorded = self.record_due()
            except SQLAlchemyError as exc:
                log.warning("agenda: database error (%s); retrying", type(exc).__name__)
                self._backoff.wait(stop)
                continue
            self._backoff.reset()
            if recorded:
                log.info("agenda: recorded %d daily agenda(s)", recorded)
            stop.wait(self._interval)
