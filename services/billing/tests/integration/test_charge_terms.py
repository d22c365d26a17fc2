"""A unit of work reads a clinic's charge terms (time zone, prices, tax) once per clinic and treatment, and
reads them again after a clinic, policy or price it wrote: a consumer's batch of events may change them
between two of its bookings. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

from sqlalchemy import event

from billing.bootstrap import Container
from billing.domain.money import Money
from billing.service_layer import charges, prices, reference_copies
from billing.service_layer.reference_copies import SyncClinic

from .test_services import add_clinic, booking, from_vancouver_booking, set_price


@contextmanager
def terms_reads(container: Container) -> Iterator[list[str]]:
    """The statements that read charge terms (they join the clinic to its price list) meanwhile."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "price_list_entries" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(container.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(container.engine, "before_cursor_execute", record)


def test_a_batch_of_bookings_for_one_clinic_reads_its_terms_once(container: Container) -> None:
    clinic_id, treatment_id, other_treatment = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    add_clinic(container, clinic_id)
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    set_price(container, clinic_id, other_treatment, 9000, date(2025, 1, 1))
    with terms_reads(container) as reads, container.uow() as uow:
        planned = [charges.plan_charge(uow, booking(clinic_id, treatment_id)) for _ in range(5)]
        other = charges.plan_charge(uow, booking(clinic_id, other_treatment))
        uow.commit()
    assert [c.amount for c in planned] == [Money(12000, "CAD")] * 5
    assert other.amount == Money(9000, "CAD")
    assert len(reads) == 2, "once for each treatment type"


def test_a_clinics_new_time_zone_between_two_bookings_prices_the_second_by_it(container: Container) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    add_clinic(container, clinic_id, "America/Vancouver")
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    set_price(container, clinic_id, treatment_id, 13000, date(2025, 4, 1))
    with container.uow() as uow:
        before = charges.plan_charge(uow, booking(clinic_id, treatment_id, from_vancouver_booking))
        moved = SyncClinic(
            clinic_id=clinic_id,
            code="VAN",
            name="Demo IMS Clinic",
            timezone="Europe/London",
            address="100 Main St",
            phone="+16045550199",
            email="front@demo.clinic",
            currency="CAD",
            as_of=container.clock.now(),
        )
        reference_copies.sync_clinic(uow, moved)
        after = charges.plan_charge(uow, booking(clinic_id, treatment_id, from_vancouver_booking))
        uow.commit()
    assert (before.service_date, before.amount) == (date(2025, 3, 31), Money(12000, "CAD"))
    assert (after.service_date, after.amount) == (date(2025, 4, 1), Money(13000, "CAD"))


def test_a_price_set_between_two_bookings_prices_the_second(container: Container) -> None:
    clinic_id, treatment_id = uuid.uuid4(), uuid.uuid4()
    add_clinic(container, clinic_id)
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    now = container.clock.now()
    visit = now + timedelta(days=20)
    with container.uow() as uow:
        before = charges.plan_charge(uow, booking(clinic_id, treatment_id, visit))
        change = prices.SetPrice(clinic_id, treatment_id, 12500, "CAD", (now + timedelta(days=10)).date())
        prices.set_price(uow, change)
        after = charges.plan_charge(uow, booking(clinic_id, treatment_id, visit))
        uow.commit()
    assert before.amount == Money(12000, "CAD")
    assert after.amount == Money(12500, "CAD")
