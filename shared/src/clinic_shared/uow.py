"""The unit of work base: one transaction holding state changes and the events that describe them."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, Self

from sqlalchemy import exc
from sqlalchemy.orm import Session, sessionmaker

from clinic_shared.clock import Clock
from clinic_shared.db import is_conflict
from clinic_shared.events.envelope import Envelope, new_event
from clinic_shared.messaging.outbox import OutboxWriter

# The correlation id of the request or message being handled; events emitted inherit it.
current_correlation_id: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "current_correlation_id", default=None
)


class SqlAlchemyUnitOfWork:
    """Opens a session; ``commit`` writes state and outbox rows atomically; leaving without commit rolls back.

    Services subclass it to attach their repositories in ``_open``. Whoever opened the unit of work (a view,
    the consumer, a job) owns the transaction and is the one to call ``commit``; a use case only adds to it.
    A use case that may lose a race to a unique or exclusion constraint writes inside ``conflicts_as``: the
    lost race rolls back that savepoint only (never what the caller did before, such as the consumer's
    inbox row) and surfaces as the service's own domain error.
    """

    session: Session

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        outbox: OutboxWriter,
        *,
        producer: str,
        clock: Clock,
        id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self.producer = producer
        self.clock = clock
        self.new_id = id_factory
        self.emitted: list[Envelope] = []

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.emitted = []
        self._open(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() rolls back anything uncommitted without expiring loaded objects, so results stay readable.
        self.session.close()

    def _open(self, session: Session) -> None:
        """Hook for subclasses: build repositories over ``session``."""

    def emit(
        self, event_type: str, data: Mapping[str, Any], *, causation: Envelope | None = None
    ) -> Envelope:
        """Record an integration event in the outbox; it is published only if the transaction commits."""
        correlation = causation.correlation_id if causation else current_correlation_id.get()
        envelope = new_event(
            event_type,
            data,
            producer=self.producer,
            occurred_at=self.clock.now(),
            correlation_id=correlation,
            causation_id=causation.id if causation else None,
            event_id=self.new_id(),
        )
        self._outbox.add(self.session, envelope)
        self.emitted.append(envelope)
        return envelope

    def flush(self) -> None:
        self.session.flush()

    def savepoint(self) -> AbstractContextManager[object]:
        """A nested transaction: an exception leaving it rolls back only what was written inside it."""
        return self.session.begin_nested()

    @contextmanager
    def conflicts_as(self, error: Exception | type[Exception]) -> Iterator[None]:
        """Write the block in a savepoint; a unique or exclusion violation (a lost race) raises ``error``.

        The block's changes are flushed before the savepoint is released, so the database has its say here
        rather than at the caller's commit. On a violation only the savepoint is rolled back: the rest of
        the transaction stays usable (read what won the race, or let the caller commit what it did before).
        Changes pending before the block are flushed first, outside the translation.
        """
        savepoint = self.savepoint()
        try:
            with savepoint:
                yield
        except exc.IntegrityError as violation:
            if is_conflict(violation):
                raise error from None
            raise

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
