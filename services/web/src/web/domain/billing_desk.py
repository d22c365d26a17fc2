"""The billing clerk's plain rules: amounts typed in, the queue's totals per patient, payments pre-allocated.

Money is integer cents beside its currency, never a float: typed amounts are read with Decimal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

MAX_CENTS = 100_000_000  # billing's ceiling on any amount
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


class AmountProblem(StrEnum):
    """Why a typed amount was refused: not a number, more than two decimals, or not above zero / too big."""

    FORMAT = "format"
    PRECISION = "precision"
    RANGE = "range"


class BadAmount(ValueError):
    def __init__(self, problem: AmountProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def parse_amount(text: str, *, allow_zero: bool = False) -> int:
    """'120', '120.50', '$1,200.00', '40,5 $' (French decimal comma): the amount in cents.

    Raises BadAmount naming what is wrong; a comma is a decimal comma only when it is the sole separator and
    one or two digits follow it.
    """
    cleaned = _SPACES.sub("", text or "").replace("$", "")
    if not cleaned:
        raise BadAmount(AmountProblem.FORMAT)
    if "," in cleaned and "." not in cleaned and re.fullmatch(r"\d+,\d{1,2}", cleaned):
        cleaned = cleaned.replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d*)?", cleaned):
        cleaned = cleaned.replace(",", "")
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", cleaned):
        raise BadAmount(AmountProblem.FORMAT)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern above admits only decimals
        raise BadAmount(AmountProblem.FORMAT) from None
    cents = amount.scaleb(2)
    if cents != cents.to_integral_value():
        raise BadAmount(AmountProblem.PRECISION)
    value = int(cents)
    if value > MAX_CENTS or (value == 0 and not allow_zero):
        raise BadAmount(AmountProblem.RANGE)
    return value


def amount_text(cents: int) -> str:
    """Cents as typed into an amount field: '120.00' (parse_amount reads it back)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


# --- the queue -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeRow:
    id: str
    patient_id: str
    kind: str
    service_date: date
    amount_cents: int | None  # None while no price is on file
    currency: str | None
    tax_rate_bp: int

    @property
    def tax_cents(self) -> int:
        """Tax as billing will put it on the line (rounded half up)."""
        if self.amount_cents is None:
            return 0
        return (self.amount_cents * self.tax_rate_bp + 5_000) // 10_000

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ChargeRow:
        return cls(
            id=str(body["id"]),
            patient_id=str(body["patient_id"]),
            kind=str(body["kind"]),
            service_date=date.fromisoformat(str(body["service_date"])),
            amount_cents=body.get("amount_cents"),
            currency=body.get("currency"),
            tax_rate_bp=int(body.get("tax_rate_bp") or 0),
        )


@dataclass
class PatientCharges:
    """One patient's billable charges, oldest first, with what they come to per currency."""

    patient_id: str
    charges: list[ChargeRow] = field(default_factory=list)

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> PatientCharges:
        """An entry of billing's queue: the patient and every charge a draft would take."""
        rows = sorted((ChargeRow.of(c) for c in entry["charges"]), key=lambda c: (c.service_date, c.id))
        return cls(str(entry["patient_id"]), rows)

    @property
    def oldest(self) -> date:
        return min(charge.service_date for charge in self.charges)

    @property
    def needs_price(self) -> bool:
        return any(charge.amount_cents is None for charge in self.charges)

    @property
    def totals(self) -> list[tuple[int, str]]:
        sums: dict[str, int] = {}
        for charge in self.charges:
            if charge.amount_cents is not None and charge.currency:
                sums[charge.currency] = sums.get(charge.currency, 0) + charge.amount_cents + charge.tax_cents
        return sorted((cents, currency) for currency, cents in sums.items())


# --- payments --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenInvoice:
    id: str
    number: str
    issued_at: str  # ISO instant: sorts in time order
    payer_kind: str
    balance_cents: int
    currency: str


def prefill_allocations(invoices: Iterable[OpenInvoice], amount_cents: int | None) -> dict[str, int]:
    """What of ``amount_cents`` goes to each open invoice, the oldest first (None: each balance in full)."""
    left = amount_cents
    allocations: dict[str, int] = {}
    for invoice in sorted(invoices, key=lambda i: (i.issued_at, i.number)):
        if invoice.balance_cents <= 0:
            continue
        share = invoice.balance_cents if left is None else min(left, invoice.balance_cents)
        if share <= 0:
            break
        allocations[invoice.id] = share
        if left is not None:
            left -= share
    return allocations


def credit_left(amount_cents: int, allocations: Mapping[str, int]) -> int:
    """What the patient keeps as credit: the payment less what it pays on invoices (negative: too much)."""
    return amount_cents - sum(allocations.values())
