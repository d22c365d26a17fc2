"""What the service layer needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, Self, TypeVar

from clinic_shared.clock import Clock
from clinic_shared.events import Envelope
from scheduling.domain.model import Account, Appointment, Clinic

T = TypeVar("T")


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


class Repository(Protocol):
    def add(self, entity: object) -> None: ...

    def get(self, cls: type[T], entity_id: uuid.UUID) -> T | None: ...

    def list(
        self, cls: type[T], *, offset: int, limit: int, **filters: object
    ) -> tuple[Sequence[T], int]: ...

    def account_by_email(self, email: str) -> Account | None: ...

    def clinic_by_code(self, code: str) -> Clinic | None: ...

    def overlapping(
        self,
        practitioner_id: uuid.UUID,
        starts_at: datetime,
        occupied_until: datetime,
        exclude: uuid.UUID | None,
    ) -> Sequence[Appointment]: ...


class UnitOfWork(Protocol):
    """One transaction: state changes and the events describing them commit together or not at all."""

    repo: Repository
    clock: Clock

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def new_id(self) -> uuid.UUID: ...

    def emit(
        self, event_type: str, data: Mapping[str, Any], *, causation: Envelope | None = None
    ) -> Envelope: ...

    def flush(self) -> None: ...

    def commit(self) -> None: ...
