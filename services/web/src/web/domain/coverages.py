"""A patient's billing at the clinic as the staff patient page shows it: third-party coverages with their days
of validity, prepaid packages, and the rules of the forms that add or end a coverage.

Plain Python over billing's answers (``GET /patients/{id}/coverages`` and ``/packages``). Which fields each
payer needs mirrors billing's ``Coverage.__post_init__`` so the page can say what is missing before asking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

PAYER_KINDS = ("worksafebc", "icbc", "extended_health")
BASIS_POINTS = 10_000  # 100 %
# The form's fields each payer needs (billing: claim_number, date_of_injury, employer_name, insurer_fee_cents,
# policy_number, coverage_bp). ``injury`` is the date boxes of the date of injury.
REQUIRED = {
    "worksafebc": ("claim_number", "injury", "employer_name"),
    "icbc": ("claim_number", "injury", "insurer_fee"),
    "extended_health": ("policy_number", "coverage_percent"),
}
# Billing's fields each payer uses (besides its kind and first day): the others are not sent.
PAYER_FIELDS = {
    "worksafebc": ("claim_number", "date_of_injury", "employer_name"),
    "icbc": ("claim_number", "date_of_injury", "insurer_fee_cents"),
    "extended_health": ("policy_number", "coverage_bp", "per_visit_max_cents", "annual_max_cents"),
}
# Billing's field names, as its 422s name them, and the form's.
API_FIELDS = {
    "payer_kind": "payer_kind",
    "claim_number": "claim_number",
    "date_of_injury": "injury",
    "employer_name": "employer_name",
    "insurer_fee_cents": "insurer_fee",
    "coverage_bp": "coverage_percent",
    "per_visit_max_cents": "per_visit_max",
    "annual_max_cents": "annual_max",
    "policy_number": "policy_number",
    "valid_from": "valid_from",
}


class CoverageState(StrEnum):
    """Open (no last day), ending (its last day is today or later) or ended (its last day has passed)."""

    OPEN = "open"
    ENDING = "ending"
    ENDED = "ended"


@dataclass(frozen=True)
class CoverageRow:
    id: str
    payer_kind: str
    currency: str
    claim_number: str | None
    policy_number: str | None
    employer_name: str | None
    date_of_injury: date | None
    insurer_fee_cents: int | None
    coverage_bp: int | None
    per_visit_max_cents: int | None
    annual_max_cents: int | None
    valid_from: date | None
    valid_to: date | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> CoverageRow:
        return cls(
            id=str(body["id"]),
            payer_kind=str(body["payer_kind"]),
            currency=str(body.get("currency") or "CAD"),
            claim_number=body.get("claim_number"),
            policy_number=body.get("policy_number"),
            employer_name=body.get("employer_name"),
            date_of_injury=_day(body.get("date_of_injury")),
            insurer_fee_cents=_cents(body.get("insurer_fee_cents")),
            coverage_bp=_cents(body.get("coverage_bp")),
            per_visit_max_cents=_cents(body.get("per_visit_max_cents")),
            annual_max_cents=_cents(body.get("annual_max_cents")),
            valid_from=_day(body.get("valid_from")),
            valid_to=_day(body.get("valid_to")),
        )

    def state(self, today: date) -> CoverageState:
        """``today`` is the clinic's: a last day is inclusive, so a coverage ending today is not ended yet."""
        if self.valid_to is None:
            return CoverageState.OPEN
        return CoverageState.ENDED if self.valid_to < today else CoverageState.ENDING

    @property
    def number(self) -> str | None:
        """The claim number (WorkSafeBC, ICBC) or the policy number (extended health)."""
        return self.claim_number or self.policy_number

    @property
    def percent(self) -> str | None:
        """The share an extended health plan covers, as a percentage ('80', '62.5')."""
        return percent_text(self.coverage_bp) if self.coverage_bp is not None else None


@dataclass(frozen=True)
class PackageRow:
    id: str
    name: str  # as sold; billing names older packages by their sessions
    treatment: str
    sessions_total: int
    sessions_used: int
    sessions_left: int
    amount_cents: int
    currency: str
    expires_on: date | None = None  # its last day of use; none: it does not expire

    @classmethod
    def of(cls, body: Mapping[str, Any], treatments: Mapping[str, str]) -> PackageRow:
        expires_on = body.get("expires_on")
        return cls(
            id=str(body["id"]),
            name=str(body.get("name") or ""),
            treatment=treatments.get(str(body.get("treatment_type_id")), ""),
            sessions_total=int(body.get("sessions_total") or 0),
            sessions_used=int(body.get("sessions_used") or 0),
            sessions_left=int(body.get("sessions_left") or 0),
            amount_cents=int(body.get("amount_cents") or 0),
            currency=str(body.get("currency") or "CAD"),
            expires_on=date.fromisoformat(expires_on) if expires_on else None,
        )

    def expired(self, today: date) -> bool:
        """Its last day has passed: the sessions left can no longer be used (billing bills visits instead)."""
        return self.expires_on is not None and today > self.expires_on


def sorted_coverages(rows: list[CoverageRow], today: date) -> list[CoverageRow]:
    """Those still in force first (the latest first day first), the ended ones after them."""
    by_start = sorted(rows, key=lambda row: row.valid_from or date.min, reverse=True)
    return sorted(by_start, key=lambda row: row.state(today) is CoverageState.ENDED)


class BadPercent(ValueError):
    """Not a percentage from 0 to 100 with at most two decimals."""


def parse_percent(text: str) -> int:
    """'80', '80 %', '62,5' (French decimal comma): basis points (8000, 6250)."""
    cleaned = (text or "").replace("%", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadPercent(text) from None
    points = value * 100
    if not value.is_finite() or points != points.to_integral_value() or not 0 <= points <= BASIS_POINTS:
        raise BadPercent(text)
    return int(points)


def percent_text(basis_points: int) -> str:
    """8000 -> '80', 6250 -> '62.5' (what ``parse_percent`` reads back)."""
    text = f"{Decimal(basis_points) / 100:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def missing_for(payer_kind: str, given: Mapping[str, Any]) -> list[str]:
    """The form fields ``payer_kind`` needs that are blank in ``given``, in the form's order."""
    return [name for name in REQUIRED.get(payer_kind, ()) if given.get(name) in (None, "")]


def for_payer(coverage: Mapping[str, Any]) -> dict[str, Any]:
    """Billing's coverage fields as answered, less those its payer does not use and those left blank."""
    kind = str(coverage.get("payer_kind") or "")
    kept = ("payer_kind", "valid_from", *PAYER_FIELDS.get(kind, ()))
    return {name: coverage[name] for name in kept if coverage.get(name) is not None}


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _cents(value: Any) -> int | None:
    return int(value) if value is not None else None
