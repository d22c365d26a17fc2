"""Scheduling's SQLAlchemy unit of work: one repository over one session, plus the outbox."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clinic_shared.uow import SqlAlchemyUnitOfWork
from scheduling.adapters.repository import SqlAlchemyRepository


class SqlAlchemySchedulingUnitOfWork(SqlAlchemyUnitOfWork):
    repo: SqlAlchemyRepository

    def _open(self, session: Session) -> None:
        self.repo = SqlAlchemyRepository(session)
