"""Treatment plans: a series of IMS sessions every k weeks on one weekday at one local wall-clock time.

Session times are computed day by day in the clinic's zone, so a 10:00 series stays at 10:00 across
daylight-saving changes; a local time that does not exist on some day is reported, never shifted.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduling.domain.availability import NonexistentLocalTime, local_datetime
from scheduling.domain.errors import RuleViolation

MAX_SESSIONS = 52


class PlanStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass
class TreatmentPlan:
    """N sessions with one practitioner; the sessions themselves are appointments carrying the plan id."""

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    treatment_type_id: uuid.UUID
    total_sessions: int
    every_weeks: int
    weekday: int
    local_time: time
    created_at: datetime
    status: PlanStatus = PlanStatus.ACTIVE
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None

    def facts(self) -> dict[str, object]:
        return {
            "plan_id": self.id,
            "clinic_id": self.clinic_id,
            "patient_id": self.patient_id,
            "practitioner_id": self.practitioner_id,
            "treatment_type_id": self.treatment_type_id,
            "total_sessions": self.total_sessions,
        }

    def require_active(self) -> None:
        if self.status is not PlanStatus.ACTIVE:
            raise RuleViolation(f"the plan is {self.status}", field="status")


@dataclass(frozen=True)
class PlannedSession:
    """One session of a series: its local day and, unless the local time does not exist, its UTC start."""

    index: int
    day: date
    starts_at: datetime | None
    problem: str | None = None


def check_series(count: int, every_weeks: int, weekday: int) -> None:
    if not 1 <= count <= MAX_SESSIONS:
        raise RuleViolation(f"a plan has 1 to {MAX_SESSIONS} sessions", field="sessions")
    if not 1 <= every_weeks <= 12:
        raise RuleViolation("sessions are 1 to 12 weeks apart", field="every_weeks")
    if not 0 <= weekday <= 6:
        raise RuleViolation("weekday must be 0 (Monday) to 6 (Sunday)", field="weekday")


def series(
    first_day: date,
    weekday: int,
    every_weeks: int,
    count: int,
    at: time,
    zone: ZoneInfo,
    first_index: int = 0,
) -> list[PlannedSession]:
    """The sessions on ``weekday`` from ``first_day`` on, every ``every_weeks`` weeks, at local ``at``."""
    check_series(count, every_weeks, weekday)
    day = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
    sessions: list[PlannedSession] = []
    for n in range(count):
        try:
            sessions.append(PlannedSession(first_index + n, day, local_datetime(day, at, zone)))
        except NonexistentLocalTime as error:
            sessions.append(PlannedSession(first_index + n, day, None, str(error)))
        day += timedelta(weeks=every_weeks)
    return sessions


def progress(statuses: Sequence[str]) -> tuple[int, int]:
    """(done, still booked) among a plan's sessions; cancelled sessions do not count."""
    done = sum(1 for s in statuses if s == "fulfilled")
    ahead = sum(1 for s in statuses if s in ("booked", "arrived"))
    return done, ahead
