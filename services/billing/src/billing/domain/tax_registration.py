"""A clinic's GST/HST registration: billing's own fact about a clinic, printed on its tax documents.

Invoices, official receipts and credit notes show the number when the clinic has one. A GST/HST
registration number is the clinic's nine-digit business number, the program identifier ``RT`` and a
four-digit reference, e.g. ``123456789RT0001``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from billing.domain.errors import RuleViolation

FIELD = "gst_hst_number"
_FORMAT = re.compile(r"^[0-9]{9}RT[0-9]{4}$")
_SEPARATORS = re.compile(r"[\s-]+")


def gst_hst_number(value: str) -> str:
    """``value`` as a GST/HST registration number (spaces and hyphens dropped, ``rt`` upper-cased)."""
    number = _SEPARATORS.sub("", value).upper()
    if not _FORMAT.match(number):
        raise RuleViolation(
            "a GST/HST registration number is 9 digits, RT and 4 digits, e.g. 123456789RT0001", field=FIELD
        )
    return number


@dataclass
class TaxRegistration:
    """The clinic's GST/HST registration number, or None when it is not registered (or not yet recorded)."""

    clinic_id: uuid.UUID
    gst_hst_number: str | None = None
    updated_at: datetime | None = None
    updated_by: uuid.UUID | None = None

    def change(self, number: str | None, *, now: datetime, by: uuid.UUID) -> None:
        """Record a new number (checked and normalised), or None when the clinic is not registered."""
        self.gst_hst_number = gst_hst_number(number) if number is not None else None
        self.updated_at = now
        self.updated_by = by
