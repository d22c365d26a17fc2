"""What the service layer needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol, Self, TypeVar

from clinic_shared.clock import Clock
from clinic_shared.events import Envelope
from scheduling.domain.availability import Closure, Interval, OpeningHours, Room, TimeOff, WorkingHours
from scheduling.domain.calendar import CalendarFeed
from scheduling.domain.model import Account, Appointment, Clinic, Suitability
from scheduling.domain.waitlist import WaitlistEntry

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

    def opening_hours(self, clinic_id: uuid.UUID) -> Sequence[OpeningHours]: ...

    def closures(self, clinic_id: uuid.UUID, first: date, last: date) -> Sequence[Closure]: ...

    def working_hours(self, practitioner_ids: Sequence[uuid.UUID]) -> Sequence[WorkingHours]: ...

    def time_off(
        self, practitioner_ids: Sequence[uuid.UUID], start: datetime, end: datetime
    ) -> Sequence[TimeOff]: ...

    def rooms(self, clinic_id: uuid.UUID) -> Sequence[Room]: ...

    def busy(
        self,
        clinic_id: uuid.UUID,
        start: datetime,
        end: datetime,
        exclude: uuid.UUID | None = None,
        practitioner_ids: Sequence[uuid.UUID] | None = None,
    ) -> Sequence[tuple[uuid.UUID, uuid.UUID | None, Interval]]: ...

    def suitability(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Suitability | None: ...

    def suitability_for(self, assessment_id: uuid.UUID) -> Suitability | None: ...

    def replace_weekly(
        self, entity: type, owner_column: str, owner_id: uuid.UUID, rows: Sequence[object]
    ) -> None: ...

    def waiting_entries(self, clinic_id: uuid.UUID) -> Sequence[WaitlistEntry]: ...

    def offers_expired_by(self, now: datetime) -> Sequence[WaitlistEntry]: ...

    def feed_by_token_hash(self, token_hash: str) -> CalendarFeed | None: ...

    def appointments_of(
        self, owner_kind: str, owner_id: uuid.UUID, start: datetime, end: datetime
    ) -> Sequence[Appointment]: ...

    def delete(self, entity: object) -> None: ...


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
