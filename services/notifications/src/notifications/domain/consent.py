"""A patient's consent to be contacted on a channel, and the record kept of each change to it (CASL).

The patient's current choices live on their Contact (copies); each change is also kept as a ConsentRecord:
what was given or withdrawn, for which purpose, when and how.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from notifications.domain.channels import Channel


class ConsentKind(enum.StrEnum):
    EXPRESS = "express"
    IMPLIED = "implied"
    WITHDRAWN = "withdrawn"


TRANSACTIONAL = "transactional"
PROMOTIONAL = "promotional"


@dataclass
class ConsentRecord:
    """One change of a patient's consent to a channel, kept for the record (CASL): what, when and how."""

    id: uuid.UUID
    patient_id: uuid.UUID
    channel: Channel
    kind: ConsentKind
    recorded_at: datetime
    source: str
    # Appointment messages are transactional (CASL); anything promotional needs express consent.
    purpose: str = TRANSACTIONAL
