"""The audit trail: who changed what in billing, and when (written by every use case that changes state)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from billing.domain.audit import AuditEntry
from billing.service_layer.tenancy import clinic_filter
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal


def audit(
    uow: BillingUnitOfWork,
    actor_id: uuid.UUID | None,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    **details: Any,
) -> None:
    """Append an audit entry in the same transaction as the change it describes."""
    uow.repo.add(
        AuditEntry(
            id=uow.new_id(),
            occurred_at=uow.clock.now(),
            actor_id=actor_id,
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            details=details,
        )
    )


def list_audit(
    uow: BillingUnitOfWork,
    actor: Principal,
    page: Page,
    entity_id: uuid.UUID | None,
    clinic_id: uuid.UUID | None = None,
) -> tuple[Sequence[AuditEntry], int]:
    """The audit trail; clinic-scoped staff see only entries about their clinic and its records."""
    return uow.repo.list_audit(
        offset=page.offset, limit=page.limit, entity_id=entity_id, clinic_id=clinic_filter(actor, clinic_id)
    )
