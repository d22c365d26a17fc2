"""Domain errors; the API maps each class to one HTTP status."""

from __future__ import annotations


class BillingError(Exception):
    """Base class; ``field`` names the offending input where there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(BillingError):
    """The record does not exist, or the caller may not see it (we do not tell which)."""


class Conflict(BillingError):
    """The request collides with existing state."""


class InvalidTransition(Conflict):
    """A charge cannot move from its current status to the one asked for."""


class RuleViolation(BillingError):
    """The request is well-formed but breaks a billing rule (422)."""


class InvalidMoney(RuleViolation):
    """An amount is not whole minor units, or its currency is not an ISO 4217 code."""


class CurrencyMismatch(RuleViolation):
    """Amounts in different currencies were combined or compared."""
