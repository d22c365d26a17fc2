"""What cancelling an appointment now would mean, told before the patient confirms.

Scheduling says until when cancelling is free (``free_cancellation_until``: the start less the treatment's
late-cancellation window); a cancellation after that is late. Billing quotes the late-cancellation fee
the clinic would invoice (tax included), or that it charges none. The page words these facts; a patient
who saw "free" is never charged without being asked again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Fee(enum.StrEnum):
    """What billing says of the late-cancellation fee."""

    AMOUNT = "amount"  # a known amount above zero
    NONE = "none"  # the clinic charges none (no policy, no fee, or zero)
    UNKNOWN = "unknown"  # billing cannot say yet (not heard of the booking, or a percentage of no price)


@dataclass(frozen=True)
class FeeQuote:
    """Billing's answer (GET /charges/fee-quote): is the fee charged, and what would be invoiced."""

    charged: bool
    total_cents: int | None
    currency: str | None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> FeeQuote:
        total = body.get("total_cents")
        return cls(
            charged=bool(body.get("charged")),
            total_cents=int(total) if total is not None else None,
            currency=body.get("currency"),
        )


class Outcome(enum.StrEnum):
    """The four ways the page words a cancellation."""

    FREE = "free"  # before the end of free cancellation
    FEE = "fee"  # late, and this fee will be invoiced
    NO_FEE = "no_fee"  # late, but the clinic charges nothing for it
    FEE_UNKNOWN = "fee_unknown"  # late, and the amount cannot be told now


@dataclass(frozen=True)
class CancellationTerms:
    free_until: datetime
    late: bool
    fee: Fee
    fee_cents: int | None = None
    currency: str | None = None

    @property
    def outcome(self) -> Outcome:
        if not self.late:
            return Outcome.FREE
        return {Fee.AMOUNT: Outcome.FEE, Fee.NONE: Outcome.NO_FEE, Fee.UNKNOWN: Outcome.FEE_UNKNOWN}[self.fee]

    @property
    def charges_fee(self) -> bool:
        """A fee may be invoiced if the patient cancels now (a known amount, or one billing cannot tell)."""
        return self.outcome in (Outcome.FEE, Outcome.FEE_UNKNOWN)

    @property
    def seen(self) -> str:
        """What the page showed, carried by its form: 'free', or 'late:<fee cents or none/unknown>'."""
        if not self.late:
            return "free"
        return f"late:{self.fee_cents if self.fee is Fee.AMOUNT else self.fee}"

    def changed_since(self, seen: str | None) -> bool:
        """True when a patient who confirmed the page described by ``seen`` would now be charged
        something they were not told of (free cancellation ended, or the fee changed, meanwhile)."""
        return self.charges_fee and seen != self.seen


def cancellation_terms(free_until: datetime, now: datetime, quote: FeeQuote | None) -> CancellationTerms:
    """The terms of cancelling at ``now``: late after ``free_until`` (scheduling's rule), and the fee.

    ``quote`` is None when billing could not quote (it has not heard of the booking yet).
    """
    return terms_for(free_until, late=now > free_until, quote=quote)


def terms_for(free_until: datetime, *, late: bool, quote: FeeQuote | None) -> CancellationTerms:
    """The terms once it is known whether the cancellation is (or was) late."""
    if quote is None or (quote.charged and quote.total_cents is None):
        return CancellationTerms(free_until=free_until, late=late, fee=Fee.UNKNOWN)
    if not quote.charged or not quote.total_cents:
        return CancellationTerms(free_until=free_until, late=late, fee=Fee.NONE)
    return CancellationTerms(
        free_until=free_until,
        late=late,
        fee=Fee.AMOUNT,
        fee_cents=quote.total_cents,
        currency=quote.currency,
    )
