"""The audit trail: an append-only record of every state change in billing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class AuditEntry:
    """An append-only record of one state change: who (an account id, or None for an event), when, what."""

    id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    entity_type: str
    entity_id: uuid.UUID
    action: str
    details: dict[str, Any]
