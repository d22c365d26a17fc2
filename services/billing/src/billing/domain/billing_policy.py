"""A clinic's fee and tax policy: what a late cancellation or a no-show costs, and the tax rates.

A fee is a fixed amount or a percentage of the visit's price; a quote tells a fee beforehand, tax included,
without charging anything.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from billing.domain.errors import RuleViolation
from billing.domain.model import ChargeKind
from billing.domain.money import BASIS_POINTS, Money, percent_of


class FeeMode(enum.StrEnum):
    """A fee is a fixed amount or a percentage (basis points) of the visit's price."""

    FIXED = "fixed"
    PERCENT = "percent"


@dataclass
class BillingPolicy:
    """A clinic's fees and taxes. No mode means no fee of that kind; treatments are tax-exempt by default."""

    clinic_id: uuid.UUID
    currency: str
    updated_at: datetime
    late_cancel_fee_mode: FeeMode | None = None
    late_cancel_fee_value: int = 0
    no_show_fee_mode: FeeMode | None = None
    no_show_fee_value: int = 0
    fee_tax_rate_bp: int = 0
    treatment_tax_rate_bp: int = 0
    payment_terms_days: int = 30

    def __post_init__(self) -> None:
        for name in ("late_cancel_fee", "no_show_fee"):
            mode, value = getattr(self, f"{name}_mode"), getattr(self, f"{name}_value")
            if value < 0 or (mode is FeeMode.PERCENT and value > BASIS_POINTS):
                raise RuleViolation("a fee is between 0 and the visit's price", field=f"{name}_value")
        for name in ("fee_tax_rate_bp", "treatment_tax_rate_bp"):
            if not 0 <= getattr(self, name) <= BASIS_POINTS:
                raise RuleViolation("a tax rate is between 0 and 10000 basis points", field=name)

    def fee(self, kind: ChargeKind, visit_price: Money | None) -> tuple[bool, Money | None]:
        """Whether ``kind`` is charged at all, and its amount (None when a percentage has no price yet)."""
        mode, value = (
            (self.late_cancel_fee_mode, self.late_cancel_fee_value)
            if kind is ChargeKind.LATE_CANCEL_FEE
            else (self.no_show_fee_mode, self.no_show_fee_value)
        )
        if mode is None:
            return False, None
        if mode is FeeMode.FIXED:
            return True, Money(value, self.currency)
        return True, percent_of(visit_price, value) if visit_price is not None else None

    def quote(self, kind: ChargeKind, visit_price: Money | None) -> FeeQuote:
        """What a fee of ``kind`` would come to for a visit priced ``visit_price``, its tax included."""
        charged, amount = self.fee(kind, visit_price)
        tax = percent_of(amount, self.fee_tax_rate_bp) if amount is not None else None
        return FeeQuote(kind=kind, charged=charged, currency=self.currency, amount=amount, tax=tax)


@dataclass(frozen=True)
class FeeQuote:
    """A fee told beforehand: whether the policy charges it, and how much (None: a percentage of a visit
    with no price yet). Nothing is charged by quoting."""

    kind: ChargeKind
    charged: bool
    currency: str | None
    amount: Money | None = None
    tax: Money | None = None

    @property
    def total(self) -> Money | None:
        return self.amount + self.tax if self.amount is not None and self.tax is not None else None
