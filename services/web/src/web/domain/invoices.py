"""How the portal shows a patient's invoices: the status as a word, what is still owed, the order, file names.

Plain rules over billing's answers (amounts are integer cents; billing's statuses are FHIR's: issued,
balanced, cancelled; drafts are never shown to a patient).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo


class InvoiceState(StrEnum):
    """What the patient reads: issued (nothing paid yet), part-paid, paid, credited (settled by a credit
    note, nothing paid) or void."""

    ISSUED = "issued"
    PART_PAID = "part-paid"
    PAID = "paid"
    CREDITED = "credited"
    VOID = "void"


def state_of(status: str, paid_cents: int, balance_cents: int) -> InvoiceState | None:
    """The word for billing's status; None for a draft (not the patient's to see yet)."""
    if status == "cancelled":
        return InvoiceState.VOID
    if status == "balanced" or (status == "issued" and balance_cents <= 0):
        return InvoiceState.PAID if paid_cents > 0 else InvoiceState.CREDITED
    if status == "issued":
        return InvoiceState.PART_PAID if paid_cents > 0 else InvoiceState.ISSUED
    return None


def local_day(moment: str, zone: str) -> date:
    """The clinic's calendar day of a UTC instant from an API (an invoice issued at 4 p.m. on 31 December in
    Vancouver is dated 31 December, not 1 January)."""
    return datetime.fromisoformat(moment).astimezone(ZoneInfo(zone)).date()


def totals_by_currency(amounts: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """Sums per currency (never added across currencies), in currency order, zeros left out."""
    sums: dict[str, int] = {}
    for cents, currency in amounts:
        sums[currency] = sums.get(currency, 0) + cents
    return [(cents, currency) for currency, cents in sorted(sums.items()) if cents]


def has_receipt(paid_cents: int) -> bool:
    """Billing prints a receipt of what was paid, so there is one as soon as anything was."""
    return paid_cents > 0


def owes(state: InvoiceState, balance_cents: int) -> bool:
    return state in (InvoiceState.ISSUED, InvoiceState.PART_PAID) and balance_cents > 0


@dataclass(frozen=True)
class Credit:
    """Money the patient paid that no invoice has used yet, at one clinic."""

    clinic_id: str
    cents: int
    currency: str


def credits_to_show(credits: Iterable[Credit]) -> list[Credit]:
    """Only real credit, the largest first (one per clinic)."""
    return sorted((c for c in credits if c.cents > 0), key=lambda c: (-c.cents, c.clinic_id))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def document_filename(kind: str, number: str | None, invoice_id: str) -> str:
    """'invoice-VAN-2026-000123.pdf', 'receipt-VAN-2026-000123.pdf': safe in any header and file system."""
    stem = _UNSAFE.sub("-", number or invoice_id).strip("-.") or "document"
    return f"{kind}-{stem[:80]}.pdf"
