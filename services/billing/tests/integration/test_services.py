"""Billing's use cases on real databases (SQLite and PostgreSQL): pricing, charges, copies, visibility."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import exc, func, insert, select

from billing.adapters import orm
from billing.bootstrap import Container
from billing.domain.errors import NotFound, RuleViolation
from billing.domain.model import Charge, ChargeKind, ChargeStatus, Clinic, Patient
from billing.domain.money import Money
from billing.service_layer import charges, prices, reference_copies
from billing.service_layer.reference_copies import SyncClinic, SyncPatient, SyncTreatmentType
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal

# Organisation-wide billing staff (no clinic_id): their roles hold in every clinic (ADR 0006).
BILLING_STAFF = Principal(account_id=uuid.uuid4(), roles=frozenset({"billing"}))
from_vancouver_booking = datetime(2025, 4, 1, 5, 30, tzinfo=UTC)  # 31 March, 22:30 in Vancouver


def add_clinic(c: Container, clinic_id: uuid.UUID, timezone: str = "America/Vancouver") -> Clinic:
    with c.uow() as uow:
        clinic = reference_copies.sync_clinic(
            uow,
            SyncClinic(
                clinic_id=clinic_id,
                code="VAN",
                name="Demo IMS Clinic",
                timezone=timezone,
                address="100 Main St, Vancouver BC",
                phone="+16045550199",
                email="front@demo.clinic",
                currency="CAD",
                as_of=c.clock.now(),
            ),
        )
        uow.commit()
        return clinic


def set_price(c: Container, clinic_id: uuid.UUID, treatment_type_id: uuid.UUID, cents: int, on: date) -> None:
    with c.uow() as uow:
        prices.set_price(uow, prices.SetPrice(clinic_id, treatment_type_id, cents, "CAD", on))
        uow.commit()


def booking(
    clinic_id: uuid.UUID,
    treatment_type_id: uuid.UUID,
    starts_at: datetime = from_vancouver_booking,
    patient_id: uuid.UUID | None = None,
) -> charges.PlanCharge:
    return charges.PlanCharge(
        appointment_id=uuid.uuid4(),
        clinic_id=clinic_id,
        practitioner_id=uuid.uuid4(),
        patient_id=patient_id or uuid.uuid4(),
        treatment_type_id=treatment_type_id,
        starts_at=starts_at,
        sequence=0,
    )


def cancellation(cmd: charges.PlanCharge, *, late: bool, sequence: int = 1) -> charges.AbortCharge:
    return charges.AbortCharge(
        **{**vars(cmd), "sequence": sequence},
        cancelled_at=cmd.starts_at - timedelta(hours=2),
        late=late,
    )


def plan(c: Container, cmd: charges.PlanCharge) -> Charge:
    with c.uow() as uow:
        charge = charges.plan_charge(uow, cmd)
        uow.commit()
        return charge


def abort(c: Container, cmd: charges.AbortCharge) -> Charge:
    with c.uow() as uow:
        charge = charges.abort_charge(uow, cmd)
        uow.commit()
        return charge


def charge_of(c: Container, appointment_id: uuid.UUID) -> Charge | None:
    with c.uow() as uow:
        return uow.repo.charge_for(appointment_id, ChargeKind.APPOINTMENT)


def charge_count(c: Container, appointment_id: uuid.UUID) -> int:
    with c.engine.connect() as conn:
        query = (
            select(func.count())
            .select_from(orm.charges)
            .where(orm.charges.c.appointment_id == appointment_id)
        )
        return conn.execute(query).scalar_one()


@pytest.fixture
def clinic_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def treatment_id() -> uuid.UUID:
    return uuid.uuid4()


# --- pricing -------------------------------------------------------------------------------------------


def test_booking_is_priced_for_the_clinics_local_date(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    add_clinic(container, clinic_id, "America/Vancouver")
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    set_price(container, clinic_id, treatment_id, 13000, date(2025, 4, 1))

    charge = plan(container, booking(clinic_id, treatment_id, from_vancouver_booking))

    assert charge.service_date == date(2025, 3, 31)
    assert charge.amount == Money(12000, "CAD")
    assert charge.status is ChargeStatus.PLANNED


def test_booking_on_the_day_a_price_takes_effect_gets_the_new_price(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    add_clinic(container, clinic_id, "America/Vancouver")
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    set_price(container, clinic_id, treatment_id, 13000, date(2025, 4, 1))

    charge = plan(container, booking(clinic_id, treatment_id, datetime(2025, 4, 1, 7, 0, tzinfo=UTC)))

    assert charge.service_date == date(2025, 4, 1)
    assert charge.amount == Money(13000, "CAD")


def test_booking_before_the_clinic_copy_arrives_is_priced_for_the_utc_date(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    set_price(container, clinic_id, treatment_id, 13000, date(2025, 4, 1))

    charge = plan(container, booking(clinic_id, treatment_id, from_vancouver_booking))

    assert charge.service_date == date(2025, 4, 1)
    assert charge.amount == Money(13000, "CAD")


def test_booking_without_a_price_on_file_makes_a_charge_that_needs_one(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    charge = plan(container, booking(clinic_id, treatment_id))

    stored = charge_of(container, charge.appointment_id)
    assert stored is not None
    assert stored.needs_price
    assert stored.amount is None
    assert stored.status is ChargeStatus.PLANNED


def test_a_price_change_never_reprices_charges_already_priced(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    add_clinic(container, clinic_id)
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    charge = plan(container, booking(clinic_id, treatment_id))

    set_price(container, clinic_id, treatment_id, 15000, date(2025, 3, 10))

    stored = charge_of(container, charge.appointment_id)
    assert stored is not None
    assert stored.amount == Money(12000, "CAD")


def test_a_new_price_prices_the_charges_that_were_waiting_for_one(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    add_clinic(container, clinic_id)
    waiting = plan(container, booking(clinic_id, treatment_id))
    too_early = plan(container, booking(clinic_id, treatment_id, datetime(2025, 3, 5, 18, 0, tzinfo=UTC)))

    set_price(container, clinic_id, treatment_id, 11000, date(2025, 3, 20))

    priced = charge_of(container, waiting.appointment_id)
    still_waiting = charge_of(container, too_early.appointment_id)
    assert priced is not None
    assert priced.amount == Money(11000, "CAD")
    assert still_waiting is not None
    assert still_waiting.needs_price


def test_setting_the_same_effective_date_twice_replaces_the_entry(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    with container.uow() as uow:
        first, created = prices.set_price(
            uow, prices.SetPrice(clinic_id, treatment_id, 9000, "CAD", date(2025, 5, 1))
        )
        uow.commit()
    assert created
    with container.uow() as uow:
        second, created = prices.set_price(
            uow, prices.SetPrice(clinic_id, treatment_id, 9500, "CAD", date(2025, 5, 1))
        )
        uow.commit()
    assert not created
    assert second.id == first.id
    with container.uow() as uow:
        entries, total = prices.list_prices(uow, BILLING_STAFF, clinic_id, Page(0, 10))
    assert total == 1
    assert entries[0].price == Money(9500, "CAD")


def test_back_dating_a_change_to_an_existing_price_list_is_refused(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    add_clinic(container, clinic_id)
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    with pytest.raises(RuleViolation) as raised:
        set_price(container, clinic_id, treatment_id, 15000, date(2025, 3, 2))
    assert raised.value.field == "effective_from"


def test_a_price_must_be_in_the_clinics_currency(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    add_clinic(container, clinic_id)
    with container.uow() as uow, pytest.raises(RuleViolation) as raised:
        prices.set_price(uow, prices.SetPrice(clinic_id, treatment_id, 9000, "USD", date(2025, 5, 1)))
    assert raised.value.field == "currency"


def test_a_price_for_another_clinics_treatment_type_is_refused(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    with container.uow() as uow:
        reference_copies.sync_treatment_type(
            uow,
            SyncTreatmentType(
                treatment_type_id=treatment_id,
                clinic_id=uuid.uuid4(),
                code="IMS30",
                name="IMS session, 30 min",
                kind="treatment",
                duration_minutes=30,
                active=True,
                as_of=container.clock.now(),
            ),
        )
        uow.commit()
    with pytest.raises(NotFound):
        set_price(container, clinic_id, treatment_id, 9000, date(2025, 5, 1))


def test_an_initial_price_only_opens_an_empty_price_list(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    cmd = prices.SetPrice(clinic_id, treatment_id, 9000, "CAD", date(2020, 1, 1))
    with container.uow() as uow:
        assert prices.set_initial_price(uow, cmd) is not None
        uow.commit()
    with container.uow() as uow:
        assert prices.set_initial_price(uow, cmd) is None
        assert len(uow.repo.price_list(clinic_id, treatment_id).entries) == 1


# --- charges -------------------------------------------------------------------------------------------


def test_planning_the_same_booking_twice_keeps_one_charge(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    cmd = booking(clinic_id, treatment_id)
    first = plan(container, cmd)
    second = plan(container, cmd)
    assert second.id == first.id
    assert charge_count(container, cmd.appointment_id) == 1


def test_the_database_refuses_a_second_charge_for_the_same_appointment_and_kind(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    charge = plan(container, booking(clinic_id, treatment_id))
    row = {
        "id": uuid.uuid4(),
        "kind": "appointment",
        "appointment_id": charge.appointment_id,
        "clinic_id": clinic_id,
        "patient_id": charge.patient_id,
        "practitioner_id": charge.practitioner_id,
        "treatment_type_id": treatment_id,
        "starts_at": charge.starts_at,
        "service_date": charge.service_date,
        "status": "planned",
        "appointment_sequence": 0,
        "late_cancellation": False,
        "created_at": charge.created_at,
        "updated_at": charge.updated_at,
    }
    with pytest.raises(exc.IntegrityError), container.engine.begin() as conn:
        conn.execute(insert(orm.charges).values(**row))
    assert charge_count(container, charge.appointment_id) == 1


def test_a_cancellation_aborts_the_charge_and_records_the_late_flag(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    cmd = booking(clinic_id, treatment_id)
    plan(container, cmd)

    abort(container, cancellation(cmd, late=True))

    stored = charge_of(container, cmd.appointment_id)
    assert stored is not None
    assert stored.status is ChargeStatus.ABORTED
    assert stored.late_cancellation
    assert stored.aborted_at == cmd.starts_at - timedelta(hours=2)


def test_a_cancellation_that_overtakes_its_booking_still_ends_aborted(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    set_price(container, clinic_id, treatment_id, 12000, date(2025, 1, 1))
    cmd = booking(clinic_id, treatment_id)

    abort(container, cancellation(cmd, late=False))
    plan(container, cmd)

    stored = charge_of(container, cmd.appointment_id)
    assert stored is not None
    assert stored.status is ChargeStatus.ABORTED
    assert stored.amount == Money(12000, "CAD")
    assert charge_count(container, cmd.appointment_id) == 1


def test_a_repeated_cancellation_changes_nothing(
    container: Container, clock: Any, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    cmd = booking(clinic_id, treatment_id)
    plan(container, cmd)
    first = abort(container, cancellation(cmd, late=True))
    clock.advance(minutes=5)
    again = abort(container, cancellation(cmd, late=False))
    assert again.late_cancellation
    assert again.updated_at == first.updated_at


# --- copies --------------------------------------------------------------------------------------------


def test_an_older_patient_event_never_overwrites_a_newer_one(container: Container) -> None:
    patient_id = uuid.uuid4()
    now = container.clock.now()

    def sync(first_name: str, as_of: datetime) -> None:
        with container.uow() as uow:
            reference_copies.sync_patient(
                uow,
                SyncPatient(patient_id, first_name, "Demo", "pat@example.com", None, "en", as_of),
            )
            uow.commit()

    sync("Patricia", now)
    sync("Pat", now - timedelta(minutes=5))  # the registration, delivered after the update
    with container.uow() as uow:
        patient = uow.repo.get(Patient, patient_id)
    assert patient is not None
    assert patient.first_name == "Patricia"


# --- visibility ----------------------------------------------------------------------------------------


def test_a_patient_lists_only_their_own_charges(
    container: Container, clinic_id: uuid.UUID, treatment_id: uuid.UUID
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    plan(container, booking(clinic_id, treatment_id, patient_id=mine))
    other = plan(container, booking(clinic_id, treatment_id, patient_id=theirs))
    me = Principal(account_id=uuid.uuid4(), roles=frozenset({"patient"}), patient_id=mine)
    page = Page(0, 50)
    with container.uow() as uow:
        own, total = charges.list_charges(uow, me, page, charges.ChargeFilter())
        asked_for_theirs, none = charges.list_charges(uow, me, page, charges.ChargeFilter(patient_id=theirs))
        with pytest.raises(NotFound):
            charges.get_charge(uow, me, other.id)
    assert total == 1
    assert [c.patient_id for c in own] == [mine]
    assert none == 0
    assert list(asked_for_theirs) == []
