"""Treatment plans: a series of IMS sessions every k weeks on one weekday at one local wall-clock time.

Session times are computed day by day in the clinic's zone, so a 10:00 series stays at 10:00 across
daylight-saving changes; a local time that does not exist on some day is reported, never shifted, and one
that happens twice (clocks going back) is flagged, its first occurrence taken unless the second is asked.

Each session keeps its place in the series (``Appointment.plan_index``), whatever time it is moved to:
"this and following" follows that order, and cutting a plan after some of its sessions shortens it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduling.domain.availability import (
    NonexistentLocalTime,
    forward_shifted,
    local_datetime,
    repeated_local_time,
)
from scheduling.domain.errors import RuleViolation
from scheduling.domain.model import Appointment, AppointmentStatus

MAX_SESSIONS = 52


class PlanStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Occurrence(enum.StrEnum):
    """Which moment a local time names on the day it happens twice (clocks going back)."""

    FIRST = "first"
    SECOND = "second"

    @property
    def fold(self) -> int:
        return 0 if self is Occurrence.FIRST else 1


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

    def cancel(self, now: datetime) -> None:
        self.status = PlanStatus.CANCELLED
        self.cancelled_at = now

    def shorten(self, sessions: int) -> None:
        """Keep only the first ``sessions`` of the series; the plan stays active."""
        if not 1 <= sessions < self.total_sessions:
            raise RuleViolation(
                f"a plan of {self.total_sessions} cannot be cut to {sessions}", field="sessions"
            )
        self.total_sessions = sessions


@dataclass(frozen=True)
class PlannedSession:
    """One session of a series: its local day and, unless the local time does not exist, its UTC start.

    ``near`` is the moment aimed at even when the local time does not exist (alternatives are sought near
    it); ``repeated`` says the local time happens twice that day.
    """

    index: int
    day: date
    starts_at: datetime | None
    problem: str | None = None
    near: datetime | None = None
    repeated: bool = False


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
    occurrence: Occurrence = Occurrence.FIRST,
) -> list[PlannedSession]:
    """The sessions on ``weekday`` from ``first_day`` on, every ``every_weeks`` weeks, at local ``at``."""
    check_series(count, every_weeks, weekday)
    day = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
    sessions: list[PlannedSession] = []
    for n in range(count):
        near = forward_shifted(day, at, zone)
        try:
            starts_at = local_datetime(day, at, zone, occurrence.fold)
        except NonexistentLocalTime as error:
            sessions.append(PlannedSession(first_index + n, day, None, str(error), near))
        else:
            repeated = repeated_local_time(day, at, zone)
            sessions.append(PlannedSession(first_index + n, day, starts_at, None, starts_at, repeated))
        day += timedelta(weeks=every_weeks)
    return sessions


def progress(statuses: Sequence[str]) -> tuple[int, int]:
    """(done, still booked) among a plan's sessions; cancelled sessions do not count."""
    done = sum(1 for s in statuses if s == "fulfilled")
    ahead = sum(1 for s in statuses if s in ("booked", "arrived"))
    return done, ahead


@dataclass(frozen=True)
class SeriesCut:
    """What "cancel this session and every following one" does: the sessions to cancel, and how many
    sessions the plan keeps (0: none is left before the cut, so the whole plan is cancelled)."""

    cancelled: list[Appointment]
    keeps: int


def places(sessions: Sequence[Appointment]) -> dict[uuid.UUID, int]:
    """Each session's place in the series; one without a recorded place is placed by its start time."""
    by_start = sorted(sessions, key=lambda s: s.starts_at)
    return {s.id: s.plan_index if s.plan_index is not None else rank for rank, s in enumerate(by_start)}


def cut_series(
    sessions: Sequence[Appointment], chosen: Appointment, total_sessions: int, now: datetime
) -> SeriesCut:
    """Cut the series at ``chosen``: it and every session after it in the series order (not by time:
    a session moved earlier is still after it) are cancelled; every one of them must still lie ahead."""
    place = places(sessions)
    at = place[chosen.id]
    if at >= total_sessions:
        raise RuleViolation("that session was already cut off the plan", field="from_appointment_id")
    following = sorted((s for s in sessions if place[s.id] >= at), key=lambda s: place[s.id])
    for session in following:
        if session.status is AppointmentStatus.CANCELLED:
            continue
        if session.status is not AppointmentStatus.BOOKED or session.starts_at <= now:
            raise RuleViolation(
                f"session {place[session.id] + 1} has already started or taken place: "
                "cancel from a later session",
                field="from_appointment_id",
            )
    kept = any(place[s.id] < at and s.status is not AppointmentStatus.CANCELLED for s in sessions)
    cancelled = [s for s in following if s.status is AppointmentStatus.BOOKED]
    return SeriesCut(cancelled, at if kept else 0)
