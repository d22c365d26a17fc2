"""Domain errors; the API maps each class to one HTTP status."""

from __future__ import annotations


class SchedulingError(Exception):
    """Base class; ``field`` names the offending input where there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(SchedulingError):
    """The record does not exist, or the caller may not see it (we do not tell which)."""


class Conflict(SchedulingError):
    """The request collides with existing state (a taken time, a duplicate email)."""


class RuleViolation(SchedulingError):
    """The request is well-formed but breaks a scheduling rule (422)."""


class Forbidden(SchedulingError):
    """The caller is known but may not do this."""


class InvalidCredentials(SchedulingError):
    """Wrong email or password (deliberately vague)."""
