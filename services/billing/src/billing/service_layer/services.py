"""Billing's use cases. Each runs in its caller's unit of work: state, inbox row and events commit together.

The caller (a view, the event consumer, a job) owns the transaction and commits it; a use case never commits
or rolls back. A write that may lose a race to a unique key runs in ``uow.conflicts_as``, so losing it
undoes that write alone (never the consumer's inbox row) and reads as a ``Conflict``.

The ``sync_*`` and charge functions (plan, abort, complete, no-show, reschedule) apply scheduling's
events; they are idempotent and tolerate events arriving twice or out of order, because the broker
guarantees neither. A late-cancellation or no-show fee is a charge of its own kind, so the unique
(appointment, kind) key keeps it to one however often the event arrives. Every change writes an audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, TypeVar

from billing.domain.errors import Conflict, NotFound, RuleViolation
from billing.domain.invoicing import AuditEntry, BillingPolicy, FeeMode
from billing.domain.model import (
    Charge,
    ChargeKind,
    ChargeStatus,
    Clinic,
    Patient,
    Practitioner,
    PriceListEntry,
    ReferenceCopy,
    TreatmentType,
    local_date,
    price_on,
    zone_or_utc,
)
from billing.domain.money import Money
from billing.service_layer.tenancy import clinic_filter, ensure_acts_in, staff_outside
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal

CopyT = TypeVar("CopyT", bound=ReferenceCopy)


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


# --- copies of scheduling's records -------------------------------------------------------------------


@dataclass(frozen=True)
class SyncClinic:
    clinic_id: uuid.UUID
    code: str
    name: str
    timezone: str
    address: str
    phone: str
    email: str
    currency: str
    as_of: datetime


@dataclass(frozen=True)
class SyncPractitioner:
    practitioner_id: uuid.UUID
    clinic_id: uuid.UUID
    display_name: str
    registration_number: str
    active: bool
    as_of: datetime


@dataclass(frozen=True)
class SyncTreatmentType:
    treatment_type_id: uuid.UUID
    clinic_id: uuid.UUID
    code: str
    name: str
    kind: str
    duration_minutes: int
    active: bool
    as_of: datetime


@dataclass(frozen=True)
class SyncPatient:
    patient_id: uuid.UUID
    first_name: str
    last_name: str
    email: str
    phone: str | None
    language: str
    as_of: datetime


def sync_clinic(uow: BillingUnitOfWork, cmd: SyncClinic) -> Clinic:
    return _sync(uow, Clinic, cmd.clinic_id, cmd.as_of, _facts(cmd, "clinic_id"))


def sync_practitioner(uow: BillingUnitOfWork, cmd: SyncPractitioner) -> Practitioner:
    return _sync(uow, Practitioner, cmd.practitioner_id, cmd.as_of, _facts(cmd, "practitioner_id"))


def sync_treatment_type(uow: BillingUnitOfWork, cmd: SyncTreatmentType) -> TreatmentType:
    return _sync(uow, TreatmentType, cmd.treatment_type_id, cmd.as_of, _facts(cmd, "treatment_type_id"))


def sync_patient(uow: BillingUnitOfWork, cmd: SyncPatient) -> Patient:
    return _sync(uow, Patient, cmd.patient_id, cmd.as_of, _facts(cmd, "patient_id"))


def _sync(
    uow: BillingUnitOfWork, cls: type[CopyT], entity_id: uuid.UUID, as_of: datetime, facts: dict[str, Any]
) -> CopyT:
    """Insert or refresh a local copy; an event older than the copy changes nothing."""
    copy = uow.repo.get(cls, entity_id)
    if copy is None:
        create: Callable[..., CopyT] = cls
        copy = create(id=entity_id, as_of=as_of, **facts)
        uow.repo.add(copy)
    else:
        copy.refresh(as_of, facts)
    return copy


def _facts(cmd: Any, id_field: str) -> dict[str, Any]:
    """A Sync* command's fields other than the record's id and ``as_of``, named as on the copy."""
    return {name: value for name, value in vars(cmd).items() if name not in {id_field, "as_of"}}


# --- price lists ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetPrice:
    clinic_id: uuid.UUID
    treatment_type_id: uuid.UUID
    amount_cents: int
    currency: str
    effective_from: date


def set_price(
    uow: BillingUnitOfWork, cmd: SetPrice, actor: Principal | None = None
) -> tuple[PriceListEntry, bool]:
    """Set a treatment's price at a clinic from a date; returns the entry and whether it is new.

    ``actor`` is the staff member asking (None: billing itself, opening a price list from an event).
    Charges waiting for a price that this entry now covers are priced; priced charges are never touched.
    """
    if actor is not None:
        ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    actor_id = actor.account_id if actor is not None else None
    price = Money(cmd.amount_cents, cmd.currency)
    clinic = uow.repo.get(Clinic, cmd.clinic_id)
    if clinic is not None and clinic.currency != price.currency:
        raise RuleViolation(f"this clinic bills in {clinic.currency}", field="currency")
    treatment = uow.repo.get(TreatmentType, cmd.treatment_type_id)
    if treatment is not None and treatment.clinic_id != cmd.clinic_id:
        raise NotFound("treatment type not found at this clinic", field="treatment_type_id")
    now = uow.clock.now()
    prices = uow.repo.price_list(cmd.clinic_id, cmd.treatment_type_id)
    with uow.conflicts_as(Conflict("this price was changed concurrently; try again", field="effective_from")):
        entry, created = prices.set(
            entry_id=uow.new_id(),
            price=price,
            effective_from=cmd.effective_from,
            today=local_date(now, _zone(clinic)),
            now=now,
        )
        if created:
            uow.repo.add(entry)
        audit(
            uow,
            actor_id,
            "price_list_entry",
            entry.id,
            "price_set",
            amount_cents=cmd.amount_cents,
            effective_from=cmd.effective_from.isoformat(),
        )
        for charge in uow.repo.charges_awaiting_price(cmd.clinic_id, cmd.treatment_type_id):
            in_force = prices.price_on(charge.service_date)
            if in_force is not None:
                charge.assign_price(in_force.price, now)
    return entry, created


def set_initial_price(uow: BillingUnitOfWork, cmd: SetPrice) -> PriceListEntry | None:
    """Open a price list (any effective date); does nothing when the treatment already has prices."""
    if uow.repo.price_list(cmd.clinic_id, cmd.treatment_type_id).entries:
        return None
    try:
        entry, _ = set_price(uow, cmd)
    except Conflict:  # opened concurrently by someone else
        return None
    return entry


def list_prices(
    uow: BillingUnitOfWork,
    actor: Principal,
    clinic_id: uuid.UUID,
    page: Page,
    treatment_type_id: uuid.UUID | None = None,
) -> tuple[Sequence[PriceListEntry], int]:
    ensure_acts_in(actor, clinic_id, field="clinic_id")
    return uow.repo.list_prices(
        clinic_id, offset=page.offset, limit=page.limit, treatment_type_id=treatment_type_id
    )


def prices_in_force(
    uow: BillingUnitOfWork, actor: Principal, clinic_id: uuid.UUID, on: date | None = None
) -> list[PriceListEntry]:
    """Each treatment type's price on a day (default: today in the clinic), what a visit then is charged.

    Only entries in force are shown: history and announced future changes stay in the staff's price list.
    Patients may read any clinic's; staff their own clinic's (every clinic's when organisation-wide).
    """
    ensure_acts_in(actor, clinic_id, field="clinic_id")
    day = on or local_date(uow.clock.now(), _zone(uow.repo.get(Clinic, clinic_id)))
    entries, _ = uow.repo.list_prices(clinic_id, offset=0, limit=10_000)
    by_treatment: dict[uuid.UUID, list[PriceListEntry]] = {}
    for entry in entries:
        by_treatment.setdefault(entry.treatment_type_id, []).append(entry)
    in_force = (price_on(listed, day) for listed in by_treatment.values())
    return [entry for entry in in_force if entry is not None]


# --- charges -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanCharge:
    appointment_id: uuid.UUID
    clinic_id: uuid.UUID
    practitioner_id: uuid.UUID
    patient_id: uuid.UUID
    treatment_type_id: uuid.UUID
    starts_at: datetime
    sequence: int


@dataclass(frozen=True)
class AbortCharge(PlanCharge):
    cancelled_at: datetime
    late: bool
    fee_waived: bool = False


@dataclass(frozen=True)
class CompleteCharge(PlanCharge):
    plan_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RecordNoShow(PlanCharge):
    marked_at: datetime
    fee_waived: bool = False


@dataclass(frozen=True)
class RescheduleCharge(PlanCharge):
    pass


def plan_charge(uow: BillingUnitOfWork, cmd: PlanCharge) -> Charge:
    """Plan the charge of a booked appointment; a booking already charged (or cancelled) changes nothing.

    Without a price on file the charge is still made, flagged as needing one.
    """
    existing = uow.repo.charge_for(cmd.appointment_id, ChargeKind.APPOINTMENT)
    if existing is not None:
        return existing
    charge = _new_charge(uow, cmd)
    try:
        with uow.conflicts_as(
            Conflict("this booking's charge was recorded meanwhile", field="appointment_id")
        ):
            uow.repo.add(charge)
            audit(uow, None, "charge", charge.id, "planned", appointment_id=str(cmd.appointment_id))
    except Conflict:
        # Another delivery of this booking won the race; the unique business key kept it to one charge.
        existing = uow.repo.charge_for(cmd.appointment_id, ChargeKind.APPOINTMENT)
        if existing is None:
            raise
        return existing
    return charge


def abort_charge(uow: BillingUnitOfWork, cmd: AbortCharge) -> Charge:
    """Abort the charge of a cancelled appointment, keeping the late flag for the late-cancellation fee.

    A cancellation that overtook its booking records the charge directly as aborted, so the booking,
    when it arrives, finds it and changes nothing.
    """
    now = uow.clock.now()
    charge = uow.repo.charge_for(cmd.appointment_id, ChargeKind.APPOINTMENT)
    if charge is None:
        charge = _new_charge(uow, cmd)
        charge.abort(cancelled_at=cmd.cancelled_at, late=cmd.late, now=now)
        uow.repo.add(charge)
        audit(uow, None, "charge", charge.id, "aborted", late=cmd.late)
    elif charge.apply_cancellation(
        sequence=cmd.sequence, cancelled_at=cmd.cancelled_at, late=cmd.late, now=now
    ):
        audit(uow, None, "charge", charge.id, "aborted", late=cmd.late)
    if cmd.late and not cmd.fee_waived:
        _charge_fee(uow, charge, ChargeKind.LATE_CANCEL_FEE, cmd.sequence)
    # If a concurrent booking inserted the charge first, the unique key fails the consumer's commit and
    # the consumer redelivers the cancellation, which then finds that charge.
    return charge


def complete_charge(uow: BillingUnitOfWork, cmd: CompleteCharge) -> Charge:
    """The appointment took place: its charge becomes billable (a completion seen twice changes nothing)."""
    now = uow.clock.now()
    charge = uow.repo.charge_for(cmd.appointment_id, ChargeKind.APPOINTMENT)
    if charge is None:
        charge = _new_charge(uow, cmd)
        uow.repo.add(charge)
    package = None
    if charge.status is ChargeStatus.PLANNED:
        package = uow.repo.package_for(cmd.clinic_id, cmd.patient_id, cmd.treatment_type_id, cmd.plan_id)
    if charge.apply_completion(sequence=cmd.sequence, now=now, package=package):
        audit(
            uow,
            None,
            "charge",
            charge.id,
            str(charge.status),
            appointment_id=str(cmd.appointment_id),
            package_id=str(charge.package_id) if charge.package_id else None,
        )
    return charge


def record_no_show(uow: BillingUnitOfWork, cmd: RecordNoShow) -> Charge:
    """The patient did not come: the visit is not billed, a no-show fee is (unless waived or no policy)."""
    now = uow.clock.now()
    charge = uow.repo.charge_for(cmd.appointment_id, ChargeKind.APPOINTMENT)
    if charge is None:
        charge = _new_charge(uow, cmd)
        charge.abort(cancelled_at=cmd.marked_at, late=False, now=now)
        uow.repo.add(charge)
        audit(uow, None, "charge", charge.id, "no_show")
    elif charge.apply_cancellation(sequence=cmd.sequence, cancelled_at=cmd.marked_at, late=False, now=now):
        audit(uow, None, "charge", charge.id, "no_show")
    if not cmd.fee_waived:
        _charge_fee(uow, charge, ChargeKind.NO_SHOW_FEE, cmd.sequence)
    return charge


def reschedule_charge(uow: BillingUnitOfWork, cmd: RescheduleCharge) -> Charge:
    """The planned charge follows the appointment to its new date and is re-priced for it."""
    charge = uow.repo.charge_for(cmd.appointment_id, ChargeKind.APPOINTMENT)
    if charge is None:
        return plan_charge(uow, cmd)
    moved = _new_charge(uow, cmd)
    changed = charge.apply_reschedule(
        sequence=cmd.sequence,
        starts_at=moved.starts_at,
        service_date=moved.service_date,
        practitioner_id=moved.practitioner_id,
        treatment_type_id=moved.treatment_type_id,
        amount=moved.amount,
        now=uow.clock.now(),
    )
    if changed:
        audit(uow, None, "charge", charge.id, "rescheduled", service_date=moved.service_date.isoformat())
    return charge


def _charge_fee(uow: BillingUnitOfWork, visit: Charge, kind: ChargeKind, sequence: int) -> Charge | None:
    """Add the clinic's fee of ``kind`` for ``visit``'s appointment, once (unique appointment and kind)."""
    existing = uow.repo.charge_for(visit.appointment_id, kind)
    if existing is not None:
        return existing
    policy = uow.repo.get(BillingPolicy, visit.clinic_id)
    if policy is None:
        return None
    charged, amount = policy.fee(kind, visit.amount)
    if not charged:
        return None
    fee = Charge.fee(
        charge_id=uow.new_id(),
        kind=kind,
        visit=visit,
        amount=amount,
        tax_rate_bp=policy.fee_tax_rate_bp,
        sequence=sequence,
        now=uow.clock.now(),
    )
    uow.repo.add(fee)
    audit(uow, None, "charge", fee.id, f"{kind}_charged", appointment_id=str(visit.appointment_id))
    return fee


@dataclass(frozen=True)
class WaiveFee:
    charge_id: uuid.UUID
    reason: str


def waive_fee(uow: BillingUnitOfWork, actor: Principal, cmd: WaiveFee) -> Charge:
    """Staff forgive a late-cancellation or no-show fee that is not yet invoiced, giving a reason."""
    charge = uow.repo.get_for_update(Charge, cmd.charge_id)
    if charge is None or not actor.acts_in(charge.clinic_id):
        raise NotFound("charge not found")
    charge.waive(reason=cmd.reason, by=actor.account_id, now=uow.clock.now())
    audit(uow, actor.account_id, "charge", charge.id, "waived", reason=cmd.reason)
    return charge


# --- billing policy -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetBillingPolicy:
    clinic_id: uuid.UUID
    currency: str
    late_cancel_fee_mode: FeeMode | None
    late_cancel_fee_value: int
    no_show_fee_mode: FeeMode | None
    no_show_fee_value: int
    fee_tax_rate_bp: int
    treatment_tax_rate_bp: int
    payment_terms_days: int


def set_billing_policy(uow: BillingUnitOfWork, actor: Principal, cmd: SetBillingPolicy) -> BillingPolicy:
    """Replace a clinic's fee and tax policy; it applies to fees and invoices made from now on."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    facts = {name: value for name, value in vars(cmd).items() if name != "clinic_id"}
    candidate = BillingPolicy(clinic_id=cmd.clinic_id, updated_at=uow.clock.now(), **facts)
    policy = uow.repo.get_for_update(BillingPolicy, cmd.clinic_id)
    with uow.conflicts_as(Conflict("the policy was changed concurrently; try again", field="clinic_id")):
        if policy is None:
            policy = candidate
            uow.repo.add(policy)
        else:
            for name, value in vars(candidate).items():
                setattr(policy, name, value)
        audit(
            uow,
            actor.account_id,
            "billing_policy",
            cmd.clinic_id,
            "set",
            **{k: str(v) if v is not None else None for k, v in facts.items()},
        )
    return policy


def get_billing_policy(uow: BillingUnitOfWork, actor: Principal, clinic_id: uuid.UUID) -> BillingPolicy:
    ensure_acts_in(actor, clinic_id, field="clinic_id")
    policy = uow.repo.get(BillingPolicy, clinic_id)
    if policy is None:
        raise NotFound("this clinic has no billing policy yet")
    return policy


# --- audit ----------------------------------------------------------------------------------------------


def audit(
    uow: BillingUnitOfWork,
    actor_id: uuid.UUID | None,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    **details: Any,
) -> None:
    """Append an audit entry in the same transaction as the change it describes."""
    uow.repo.add(
        AuditEntry(
            id=uow.new_id(),
            occurred_at=uow.clock.now(),
            actor_id=actor_id,
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            details=details,
        )
    )


def list_audit(
    uow: BillingUnitOfWork,
    actor: Principal,
    page: Page,
    entity_id: uuid.UUID | None,
    clinic_id: uuid.UUID | None = None,
) -> tuple[Sequence[AuditEntry], int]:
    """The audit trail; clinic-scoped staff see only entries about their clinic and its records."""
    return uow.repo.list_audit(
        offset=page.offset,
        limit=page.limit,
        entity_id=entity_id,
        clinic_id=clinic_filter(actor, clinic_id),
    )


@dataclass(frozen=True)
class ChargeFilter:
    patient_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    clinic_id: uuid.UUID | None = None
    status: ChargeStatus | None = None
    needs_price: bool | None = None


def list_charges(
    uow: BillingUnitOfWork, actor: Principal, page: Page, query: ChargeFilter
) -> tuple[Sequence[Charge], int]:
    """Staff see their clinic's charges (every clinic's when organisation-wide); a patient only their own
    (asking for anyone else's gives an empty page)."""
    patient_id, clinic_id = query.patient_id, clinic_filter(actor, query.clinic_id)
    if not actor.is_staff:
        if actor.patient_id is None or patient_id not in (None, actor.patient_id):
            return [], 0
        patient_id = actor.patient_id
    return uow.repo.list_charges(
        offset=page.offset,
        limit=page.limit,
        patient_id=patient_id,
        appointment_id=query.appointment_id,
        clinic_id=clinic_id,
        status=query.status,
        needs_price=query.needs_price,
    )


def get_charge(uow: BillingUnitOfWork, actor: Principal, charge_id: uuid.UUID) -> Charge:
    charge = uow.repo.get(Charge, charge_id)
    if (
        charge is None
        or staff_outside(actor, charge.clinic_id)
        or (not actor.is_staff and actor.patient_id != charge.patient_id)
    ):
        raise NotFound("charge not found")
    return charge


# --- helpers -------------------------------------------------------------------------------------------


def _zone(clinic: Clinic | None) -> tzinfo:
    """The clinic's time zone; UTC until its copy has arrived."""
    return clinic.zone if clinic is not None else zone_or_utc(None)


def _new_charge(uow: BillingUnitOfWork, cmd: PlanCharge) -> Charge:
    """A planned charge priced for the appointment's date in the clinic's calendar."""
    service_date = local_date(cmd.starts_at, _zone(uow.repo.get(Clinic, cmd.clinic_id)))
    in_force = uow.repo.price_list(cmd.clinic_id, cmd.treatment_type_id).price_on(service_date)
    policy = uow.repo.get(BillingPolicy, cmd.clinic_id)
    charge = Charge.plan(
        charge_id=uow.new_id(),
        appointment_id=cmd.appointment_id,
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        practitioner_id=cmd.practitioner_id,
        treatment_type_id=cmd.treatment_type_id,
        starts_at=cmd.starts_at,
        service_date=service_date,
        amount=in_force.price if in_force is not None else None,
        sequence=cmd.sequence,
        now=uow.clock.now(),
    )
    charge.tax_rate_bp = policy.treatment_tax_rate_bp if policy is not None else 0
    return charge
