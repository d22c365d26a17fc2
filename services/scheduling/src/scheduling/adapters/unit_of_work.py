"""Scheduling's SQLAlchemy unit of work: one repository over one session, plus the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from clinic_shared.uow import SqlAlchemyUnitOfWork
from scheduling.adapters.repository import SqlAlchemyRepository
from scheduling.domain.errors import Conflict

STALE_MESSAGE = "the appointment was changed by another request meanwhile; read it again"


class SqlAlchemySchedulingUnitOfWork(SqlAlchemyUnitOfWork):
    repo: SqlAlchemyRepository

    def _open(self, session: Session) -> None:
        self.repo = SqlAlchemyRepository(session)

    def savepoint(self) -> AbstractContextManager[object]:
        return self.session.begin_nested()

    def flush(self) -> None:
        with stale_is_a_conflict():
            super().flush()

    def commit(self) -> None:
        with stale_is_a_conflict():
            super().commit()


@contextmanager
def stale_is_a_conflict() -> Iterator[None]:
    """An appointment's version compare-and-set found a newer version: a 409, never a silent overwrite."""
    try:
        yield
    except StaleDataError:
        raise Conflict(STALE_MESSAGE) from None
