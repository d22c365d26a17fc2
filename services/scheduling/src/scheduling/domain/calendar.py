"""Calendar feeds: a calendar app subscribes with an unguessable per-owner token in the URL (no bearer).

Only a hash of the token is stored; revoking a feed makes its URL dead at once.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime


class FeedOwner(enum.StrEnum):
    PATIENT = "patient"
    PRACTITIONER = "practitioner"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CalendarFeed:
    id: uuid.UUID
    owner_kind: FeedOwner
    owner_id: uuid.UUID
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
