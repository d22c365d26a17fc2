"""Domain errors; the API maps each class to one HTTP status."""

from __future__ import annotations


class NotificationsError(Exception):
    """Base class; ``field`` names the offending input where there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(NotificationsError):
    """The record does not exist, or the caller may not see it (we do not tell which)."""


class Forbidden(NotificationsError):
    """The caller is known but may not do this."""


class InvalidTransition(NotificationsError):
    """A delivery was asked to move to a status its current status does not lead to."""


class NoAddress(NotificationsError):
    """The patient has no address on this channel (e.g. no phone number for an SMS)."""


class InvalidPolicy(NotificationsError):
    """A reminder policy that cannot work (e.g. a reminder weeks ahead, or empty quiet hours)."""


class NotYet(NotificationsError):
    """The request needs a copy of scheduling's data that has not arrived yet (e.g. the patient's contact)."""


class Conflict(NotificationsError):
    """A rival transaction recorded the same thing first (a lost race to a unique key)."""
