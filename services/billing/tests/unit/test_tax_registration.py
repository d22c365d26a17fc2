"""GST/HST registration numbers: nine digits, RT and four digits; anything else names the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from billing.domain.errors import RuleViolation
from billing.domain.tax_registration import TaxRegistration, gst_hst_number


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("123456789RT0001", "123456789RT0001"),
        ("123456789rt0001", "123456789RT0001"),
        (" 123456789 RT 0001 ", "123456789RT0001"),
        ("12345-6789-RT-0002", "123456789RT0002"),
    ],
)
def test_a_number_is_kept_in_its_canonical_form(typed: str, stored: str) -> None:
    assert gst_hst_number(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "123456789",
        "12345678RT0001",
        "1234567890RT0001",
        "123456789RP0001",
        "123456789RT001",
        "123456789RT00011",
        "12345678ORT0001",
        "\u0661" * 9 + "RT0001",  # Arabic-Indic digits are digits to Python, not to the CRA
    ],
)
def test_anything_else_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(RuleViolation, match="9 digits, RT and 4 digits") as refused:
        gst_hst_number(typed)
    assert refused.value.field == "gst_hst_number"


def test_a_clinic_can_be_recorded_as_not_registered() -> None:
    registration = TaxRegistration(uuid.uuid4())
    now, by = datetime(2026, 3, 2, tzinfo=UTC), uuid.uuid4()

    registration.change("123456789RT0001", now=now, by=by)
    registration.change(None, now=now, by=by)

    assert (registration.gst_hst_number, registration.updated_at, registration.updated_by) == (None, now, by)
