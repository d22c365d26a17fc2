"""The agenda loop, in the worker beside the dispatcher: records practitioners' daily agendas when due.

Each pass is ``agenda.record_daily_agendas`` in one unit of work, committed here; the unique key makes
passes idempotent, so running it every minute (or in several workers) records each agenda once. ``job()``
is the worker's periodic job (database outages waited out with backoff).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import time

from clinic_shared.messaging.worker import PeriodicJob
from notifications.service_layer import agenda
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

log = logging.getLogger(__name__)


class AgendaScheduler:
    """Records due agendas (``record_due``; every ``interval`` seconds as ``job()``) and calls ``on_recorded``
    when it did."""

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

    def record_due(self) -> int:
        with self._uow_factory() as uow:
            recorded = agenda.record_daily_agendas(uow, self._agenda_time)
            uow.commit()
        if recorded:
            log.info("agenda: recorded %d daily agenda(s)", recorded)
            if self._on_recorded is not None:
                self._on_recorded()
        return recorded

    def job(self) -> PeriodicJob:
        return PeriodicJob("agenda", self.record_due, interval=self._interval)
