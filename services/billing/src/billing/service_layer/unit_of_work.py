"""Billing's unit of work: one repository over one session, plus the inbox row and the outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from billing.service_layer.ports import BillingRepository
from clinic_shared.uow import SqlAlchemyUnitOfWork


class BillingUnitOfWork(SqlAlchemyUnitOfWork):
    """Billing's transaction; the repository is built by ``repositories`` (wired in bootstrap)."""

    repo: BillingRepository

    def __init__(
        self, *args: Any, repositories: Callable[[Session], BillingRepository], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._repositories = repositories

    def _open(self, session: Session) -> None:
        self.repo = self._repositories(session)
