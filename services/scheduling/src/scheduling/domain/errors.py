"""Domain errors; the API maps each class to one HTTP status."""

from __future__ import annotations

import uuid
from typing import Any


class SchedulingError(Exception):
    """Base class; ``field`` names the offending input where there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(SchedulingError):
    """The record does not exist, or the caller may not see it (we do not tell which)."""


class Conflict(SchedulingError):
    """The request collides with existing state (a taken time, a duplicate email)."""


class PatientOverlap(Conflict):
    """The patient already has a live appointment overlapping this time; the problem names it."""

    def __init__(self, other_id: uuid.UUID | None) -> None:
        super().__init__("the patient already has an appointment at this time", field="starts_at")
        self.other_id = other_id
        self.problem_extra = {"conflicting_appointment_id": str(other_id) if other_id else None}


class PlanConflict(Conflict):
    """Some sessions of a plan cannot be booked; ``conflicts`` says which and offers alternatives (nothing
    was held)."""

    def __init__(self, conflicts: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(conflicts)} session(s) cannot be booked as requested; nothing was booked")
        self.problem_extra = {"conflicts": conflicts}


class PreconditionFailed(SchedulingError):
    """The client changed a version of the record that is no longer current (a stale If-Match)."""


class RuleViolation(SchedulingError):
    """The request is well-formed but breaks a scheduling rule (422)."""


class Forbidden(SchedulingError):
    """The caller is known but may not do this."""


class InvalidCredentials(SchedulingError):
    """Wrong email or password (deliberately vague)."""
