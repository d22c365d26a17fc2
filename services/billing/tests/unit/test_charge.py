"""Charges: planned, billable or aborted, the transitions between them, and events out of order."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from billing.domain.errors import InvalidTransition
from billing.domain.model import Charge, ChargeKind, ChargeStatus, Clinic
from billing.domain.money import Money

NOW = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)
STARTS = datetime(2025, 3, 10, 17, 0, tzinfo=UTC)


PRICE = Money(12000, "CAD")


def planned(amount: Money | None = PRICE, sequence: int = 0) -> Charge:
    return Charge.plan(
        charge_id=uuid.uuid4(),
        appointment_id=uuid.uuid4(),
        clinic_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        practitioner_id=uuid.uuid4(),
        treatment_type_id=uuid.uuid4(),
        starts_at=STARTS,
        service_date=date(2025, 3, 10),
        amount=amount,
        sequence=sequence,
        now=NOW,
    )


def test_a_booking_plans_a_charge_for_the_appointment() -> None:
    charge = planned()
    assert charge.status is ChargeStatus.PLANNED
    assert charge.kind is ChargeKind.APPOINTMENT
    assert not charge.needs_price
    assert not charge.late_cancellation


def test_a_charge_without_a_price_needs_one() -> None:
    assert planned(amount=None).needs_price


def test_a_waiting_charge_takes_a_price_once() -> None:
    charge = planned(amount=None)
    assert charge.assign_price(Money(9000, "CAD"), NOW)
    assert not charge.assign_price(Money(9999, "CAD"), NOW)
    assert charge.amount == Money(9000, "CAD")


def test_a_planned_charge_becomes_billable() -> None:
    charge = planned()
    charge.mark_billable(NOW)
    assert charge.status is ChargeStatus.BILLABLE


def test_a_cancellation_aborts_a_planned_charge_and_keeps_the_late_flag() -> None:
    charge = planned()
    cancelled_at = STARTS - timedelta(hours=3)
    assert charge.apply_cancellation(sequence=1, cancelled_at=cancelled_at, late=True, now=NOW)
    assert charge.status is ChargeStatus.ABORTED
    assert charge.late_cancellation
    assert charge.aborted_at == cancelled_at
    assert charge.appointment_sequence == 1


@pytest.mark.parametrize("sequence", [0, 1])
def test_a_duplicate_or_stale_cancellation_changes_nothing(sequence: int) -> None:
    charge = planned(sequence=1)
    assert not charge.apply_cancellation(sequence=sequence, cancelled_at=NOW, late=False, now=NOW)
    assert charge.status is ChargeStatus.PLANNED


def test_a_cancellation_of_an_aborted_charge_is_harmless() -> None:
    charge = planned()
    charge.apply_cancellation(sequence=1, cancelled_at=NOW, late=True, now=NOW)
    assert not charge.apply_cancellation(sequence=2, cancelled_at=NOW, late=False, now=NOW)
    assert charge.status is ChargeStatus.ABORTED
    assert charge.late_cancellation


def test_an_aborted_charge_never_becomes_billable() -> None:
    charge = planned()
    charge.abort(cancelled_at=NOW, late=False, now=NOW)
    with pytest.raises(InvalidTransition):
        charge.mark_billable(NOW)


def test_a_billable_charge_cannot_be_aborted() -> None:
    charge = planned()
    charge.mark_billable(NOW)
    with pytest.raises(InvalidTransition):
        charge.apply_cancellation(sequence=1, cancelled_at=NOW, late=False, now=NOW)
    assert charge.status is ChargeStatus.BILLABLE


def test_planning_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Charge.plan(
            charge_id=uuid.uuid4(),
            appointment_id=uuid.uuid4(),
            clinic_id=uuid.uuid4(),
            patient_id=uuid.uuid4(),
            practitioner_id=uuid.uuid4(),
            treatment_type_id=uuid.uuid4(),
            starts_at=STARTS.replace(tzinfo=None),
            service_date=date(2025, 3, 10),
            amount=None,
            sequence=0,
            now=NOW,
        )


def test_a_copy_ignores_an_event_older_than_the_one_it_reflects() -> None:
    clinic = Clinic(
        id=uuid.uuid4(),
        code="VAN",
        name="New name",
        timezone="America/Vancouver",
        address="1 Main St",
        phone="+16045550100",
        email="front@example.com",
        currency="CAD",
        as_of=NOW,
    )
    assert not clinic.refresh(NOW - timedelta(minutes=1), {"name": "Old name"})
    assert clinic.name == "New name"
    assert clinic.refresh(NOW + timedelta(minutes=1), {"name": "Newer name"})
    assert clinic.name == "Newer name"
    assert clinic.as_of == NOW + timedelta(minutes=1)
