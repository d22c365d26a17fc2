"""Money as whole minor units (cents) of one ISO 4217 currency; never a float.

Arithmetic and ordering refuse to mix currencies. ``allocate`` splits an amount without losing a cent
(e.g. between an insurer and a patient).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from billing.domain.errors import CurrencyMismatch, InvalidMoney

_CURRENCY = re.compile(r"^[A-Z]{3}$")

# ISO 4217 currencies whose minor unit is not a hundredth (only used for display).
_EXPONENTS = {
    "BHD": 3,
    "CLP": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "VND": 0,
}


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of ``currency`` (cents for CAD)."""

    cents: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True cents is a bug, not an amount.
        if type(self.cents) is not int:
            raise InvalidMoney("amounts are whole minor units (an integer)", field="amount_cents")
        if not isinstance(self.currency, str) or not _CURRENCY.match(self.currency):
            raise InvalidMoney("currency must be an ISO 4217 code such as CAD", field="currency")

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(0, currency)

    @property
    def exponent(self) -> int:
        return _EXPONENTS.get(self.currency, 2)

    @property
    def is_zero(self) -> bool:
        return self.cents == 0

    @property
    def is_negative(self) -> bool:
        return self.cents < 0

    def _same_currency(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}", field="currency")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.cents + self._same_currency(other).cents, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.cents - self._same_currency(other).cents, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.cents, self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            return NotImplemented
        return Money(self.cents * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.cents < self._same_currency(other).cents

    def __le__(self, other: Money) -> bool:
        return self.cents <= self._same_currency(other).cents

    def __gt__(self, other: Money) -> bool:
        return self.cents > self._same_currency(other).cents

    def __ge__(self, other: Money) -> bool:
        return self.cents >= self._same_currency(other).cents

    def allocate(self, ratios: Sequence[int]) -> list[Money]:
        """Split in proportion to ``ratios``; leftover cents go one each to the first non-zero parts."""
        if not ratios or any(type(r) is not int or r < 0 for r in ratios) or sum(ratios) == 0:
            raise ValueError("ratios must be non-negative integers with a positive sum")
        total = sum(ratios)
        shares = [self.cents * ratio // total for ratio in ratios]
        receivers = [index for index, ratio in enumerate(ratios) if ratio > 0]
        for index in receivers[: self.cents - sum(shares)]:
            shares[index] += 1
        return [Money(share, self.currency) for share in shares]

    def __str__(self) -> str:
        sign = "-" if self.cents < 0 else ""
        whole, fraction = divmod(abs(self.cents), 10**self.exponent)
        amount = f"{whole}.{fraction:0{self.exponent}d}" if self.exponent else str(whole)
        return f"{sign}{amount} {self.currency}"


# Rates are in basis points (1/100 of a percent): taxes, percentage fees, payers' shares. Never a float.
BASIS_POINTS = 10_000


def percent_of(amount: Money, basis_points: int) -> Money:
    """``basis_points``/100 percent of ``amount``, rounded half up to a whole minor unit."""
    if basis_points < 0:
        raise ValueError("a rate cannot be negative")
    return Money((amount.cents * basis_points + BASIS_POINTS // 2) // BASIS_POINTS, amount.currency)
