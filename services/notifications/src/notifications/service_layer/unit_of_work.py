"""Notifications' unit of work: one repository over one session, plus the outbox.

The repository is built by a factory the composition root passes in, so the service layer never imports
the adapters that implement it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from clinic_shared.clock import Clock
from clinic_shared.messaging.outbox import OutboxWriter
from clinic_shared.uow import SqlAlchemyUnitOfWork
from notifications.service_layer.ports import Repository

PRODUCER = "notifications"
DEFAULT_DEBOUNCE = timedelta(minutes=2)


class NotificationsUnitOfWork(SqlAlchemyUnitOfWork):
    repo: Repository

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        outbox: OutboxWriter,
        *,
        repository_factory: Callable[[Session], Repository],
        clock: Clock,
        id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
        debounce: timedelta = DEFAULT_DEBOUNCE,
    ) -> None:
        super().__init__(session_factory, outbox, producer=PRODUCER, clock=clock, id_factory=id_factory)
        self._repository_factory = repository_factory
        # How long an immediate message waits, so that a quick change after it replaces it.
        self.debounce = debounce

    def _open(self, session: Session) -> None:
        self.repo = self._repository_factory(session)
