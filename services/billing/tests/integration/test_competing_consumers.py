"""Competing consumers (several billing workers on one queue) may apply two events of one appointment at the
same moment, each in its own transaction. The later version must win whichever transaction commits last.

On real PostgreSQL: the newer event's transaction has applied its change but not committed when the older
event's transaction starts; without a row lock the older one read the charge as it was before both and,
committing last, wrote its older version over the newer one.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from billing.bootstrap import Container, bootstrap
from billing.domain.model import ChargeKind, ChargeStatus
from billing.service_layer import charges
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.testing.tokens import TestIssuer

from ..conftest import NOW, ManualClock, billing_settings
from .test_services import add_clinic, booking, from_vancouver_booking, plan, set_price

pytestmark = pytest.mark.integration

# Long enough for the older transaction to reach the charge while the newer one holds it.
OVERLAP = 0.5


@pytest.fixture
def container(pg_url: str) -> Iterator[Container]:
    c = bootstrap(billing_settings(pg_url), clock=ManualClock(NOW), verifier=TestIssuer().verifier())
    yield c
    c.engine.dispose()


def moved(cmd: charges.PlanCharge, sequence: int, days: int) -> charges.RescheduleCharge:
    fields = {f.name: getattr(cmd, f.name) for f in dataclasses.fields(charges.PlanCharge)}
    return charges.RescheduleCharge(
        **fields | {"sequence": sequence, "starts_at": cmd.starts_at + timedelta(days=days)}
    )


def cancelled(cmd: charges.PlanCharge, sequence: int) -> charges.AbortCharge:
    fields = {f.name: getattr(cmd, f.name) for f in dataclasses.fields(charges.PlanCharge)}
    return charges.AbortCharge(
        **fields | {"sequence": sequence}, cancelled_at=cmd.starts_at - timedelta(days=3), late=False
    )


def newer_then_older(
    container: Container,
    newer: Callable[[BillingUnitOfWork], object],
    older: Callable[[BillingUnitOfWork], object],
) -> None:
    """Apply ``newer`` and hold its transaction open while ``older`` runs in another, then commit both."""
    errors: list[BaseException] = []

    def apply_older() -> None:
        try:
            with container.uow() as uow:
                older(uow)
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    with container.uow() as uow:
        newer(uow)
        uow.flush()
        rival = threading.Thread(target=apply_older)
        rival.start()
        time.sleep(OVERLAP)
        uow.commit()
    rival.join(timeout=30)
    assert not rival.is_alive()
    assert errors == []


@pytest.mark.parametrize("newer_is", ["reschedule", "cancellation"])
def test_an_older_reschedule_applied_alongside_a_newer_change_never_wins(
    container: Container, newer_is: str
) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    add_clinic(container, clinic_id)
    set_price(container, clinic_id, treatment_id, 9000, from_vancouver_booking.date() - timedelta(days=30))
    booked = booking(clinic_id, treatment_id)
    plan(container, booked)
    older = moved(booked, sequence=1, days=1)

    newer_change: charges.PlanCharge
    if newer_is == "reschedule":
        newer_change = moved(booked, sequence=2, days=2)
        newer_starts_at, newer_status = newer_change.starts_at, ChargeStatus.PLANNED
    else:
        newer_change = cancelled(booked, sequence=2)
        newer_starts_at, newer_status = booked.starts_at, ChargeStatus.ABORTED

    def newer_fn(uow: BillingUnitOfWork) -> object:
        if isinstance(newer_change, charges.AbortCharge):
            return charges.abort_charge(uow, newer_change)
        assert isinstance(newer_change, charges.RescheduleCharge)
        return charges.reschedule_charge(uow, newer_change)

    newer_then_older(container, newer_fn, lambda uow: charges.reschedule_charge(uow, older))

    with container.uow() as uow:
        charge = uow.repo.charge_for(booked.appointment_id, ChargeKind.APPOINTMENT)
        assert charge is not None
        assert (charge.appointment_sequence, charge.status, charge.starts_at) == (
            2,
            newer_status,
            newer_starts_at,
        )


def test_a_cancellation_that_overtakes_a_reschedule_leaves_the_charge_at_the_time_it_was_cancelled(
    container: Container,
) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    add_clinic(container, clinic_id)
    booked = booking(clinic_id, treatment_id)
    plan(container, booked)
    rescheduled = moved(booked, sequence=1, days=2)
    # Cancelled after the reschedule: the event carries the new time, and arrives first.
    cancellation = cancelled(rescheduled, sequence=2)
    for apply in (
        lambda uow: charges.abort_charge(uow, cancellation),
        lambda uow: charges.reschedule_charge(uow, rescheduled),
    ):
        with container.uow() as uow:
            apply(uow)
            uow.commit()

    with container.uow() as uow:
        charge = uow.repo.charge_for(booked.appointment_id, ChargeKind.APPOINTMENT)
        assert charge is not None
        assert (charge.appointment_sequence, charge.status, charge.starts_at) == (
            2,
            ChargeStatus.ABORTED,
            rescheduled.starts_at,
        )
