"""Aging buckets, daily payment totals and revenue grouping as pure functions."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from billing.domain.reports import (
    OpenBalance,
    PaymentFact,
    RevenueFact,
    aging,
    aging_bucket,
    daily_payments,
    revenue,
)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, "days_0_30"),
        (30, "days_0_30"),
        (31, "days_31_60"),
        (60, "days_31_60"),
        (61, "days_61_90"),
        (90, "days_61_90"),
        (91, "days_over_90"),
    ],
)
def test_balances_age_into_the_four_buckets(days: int, bucket: str) -> None:
    assert aging_bucket(days) == bucket


def test_aging_sums_each_patient_and_payer_and_skips_settled_invoices() -> None:
    patient = uuid.uuid4()
    today = date(2026, 6, 30)
    rows = aging(
        [
            OpenBalance(patient, "patient", date(2026, 6, 1), 1000),
            OpenBalance(patient, "patient", date(2026, 3, 1), 2000),
            OpenBalance(patient, "icbc", date(2026, 6, 1), 9000),
            OpenBalance(patient, "patient", date(2026, 6, 1), 0),
        ],
        today,
    )
    assert [(r.payer_kind, r.days_0_30, r.days_over_90, r.total) for r in rows] == [
        ("icbc", 9000, 0, 9000),
        ("patient", 1000, 2000, 3000),
    ]


def test_daily_payments_count_receipts_and_net_out_refunds() -> None:
    day = date(2026, 6, 1)
    [row] = daily_payments(
        [
            PaymentFact(day, "card", 5000, False),
            PaymentFact(day, "card", 7000, False),
            PaymentFact(day, "card", 1000, True),
        ]
    )
    assert (row.count, row.received_cents, row.refunded_cents, row.net_cents) == (2, 12000, 1000, 11000)


def test_revenue_groups_by_practitioner_and_treatment() -> None:
    ida, tx = uuid.uuid4(), uuid.uuid4()
    rows = revenue([RevenueFact(ida, tx, 12000), RevenueFact(ida, tx, 12000), RevenueFact(ida, None, 4000)])
    assert [(r.treatment_type_id, r.lines, r.amount_cents) for r in rows] == [(tx, 2, 24000), (None, 1, 4000)]
