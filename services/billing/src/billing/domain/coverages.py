"""A patient's third-party payer at a clinic (WorkSafeBC, ICBC, extended health): its facts, its days of
validity and the share of a visit it pays."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from billing.domain.errors import RuleViolation
from billing.domain.invoicing import PayerKind
from billing.domain.money import BASIS_POINTS, Money, percent_of


@dataclass
class Coverage:
    """A patient's third-party payer at a clinic (valid from/to: days, inclusive), its facts and limits.

    WorkSafeBC pays a claim's whole visit; ICBC up to its fee a visit; extended health a share up to maxima.
    """

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    payer_kind: PayerKind
    currency: str
    created_at: datetime
    claim_number: str | None = None
    date_of_injury: date | None = None
    employer_name: str | None = None
    insurer_fee_cents: int | None = None
    coverage_bp: int | None = None
    per_visit_max_cents: int | None = None
    annual_max_cents: int | None = None
    policy_number: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None  # set when the coverage is ended

    def __post_init__(self) -> None:
        required = {
            PayerKind.WORKSAFEBC: ("claim_number", "date_of_injury", "employer_name"),
            PayerKind.ICBC: ("claim_number", "date_of_injury", "insurer_fee_cents"),
            PayerKind.EXTENDED_HEALTH: ("policy_number", "coverage_bp"),
        }.get(self.payer_kind)
        if required is None:
            raise RuleViolation("a coverage is for a third-party payer", field="payer_kind")
        for name in required:
            value = getattr(self, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise RuleViolation(f"{self.payer_kind} needs {name}", field=name)
        if self.coverage_bp is not None and not 0 <= self.coverage_bp <= BASIS_POINTS:
            raise RuleViolation("coverage is between 0 and 10000 basis points", field="coverage_bp")

    @property
    def first_day(self) -> date:
        """Its first day; one recorded before coverages had a first day starts on its date of injury, else
        on the (UTC) day it was recorded."""
        return self.valid_from or self.date_of_injury or self.created_at.date()

    def covers(self, day: date) -> bool:
        """True when a visit on ``day`` (the clinic's calendar) falls within the coverage's days."""
        return self.first_day <= day and (self.valid_to is None or day <= self.valid_to)

    def payer_share(self, amount: Money, used_this_year: Money) -> Money:
        """What the payer pays of ``amount``; the patient pays the rest."""
        if self.payer_kind is PayerKind.WORKSAFEBC:
            return amount
        if self.payer_kind is PayerKind.ICBC:
            return min(amount, Money(self.insurer_fee_cents or 0, amount.currency))
        share = percent_of(amount, self.coverage_bp or 0)
        if self.per_visit_max_cents is not None:
            share = min(share, Money(self.per_visit_max_cents, amount.currency))
        if self.annual_max_cents is not None:
            left = Money(self.annual_max_cents, amount.currency) - used_this_year
            share = min(share, left if not left.is_negative else Money.zero(amount.currency))
        return share
