"""Charges: what each appointment is to be billed, applied from scheduling's events, and the fees a late
cancellation or a missed visit brings.

The event-driven functions (plan, abort, complete, no-show, reschedule) are idempotent and tolerate events
arriving twice or out of order, because the broker guarantees neither. Competing consumers may apply two
events of one appointment at the same moment: each change first locks the appointment's charges, so the
later transaction decides on what the earlier one committed (an older version never overwrites a newer).
A late-cancellation or no-show fee is a charge of its own kind, so the unique (appointment, kind) key keeps
it to one however often the event arrives. As everywhere in the service layer, the caller owns the
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from billing.domain.billing_policy import BillingPolicy
from billing.domain.errors import Conflict, NotFound
from billing.domain.model import Charge, ChargeKind, ChargeStatus, local_date, zone_or_utc
from billing.service_layer.audit import audit
from billing.service_layer.tenancy import clinic_filter, staff_outside
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal


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
    charge, recorded = _take_charge(uow, cmd, lambda: _new_charge(uow, cmd), likely_new=True)
    if recorded:
        audit(uow, None, "charge", charge.id, "planned", appointment_id=str(cmd.appointment_id))
    return charge


def abort_charge(uow: BillingUnitOfWork, cmd: AbortCharge) -> Charge:
    """Abort the charge of a cancelled appointment, keeping the late flag for the late-cancellation fee.

    A cancellation that overtook its booking records the charge directly as aborted, so the booking,
    when it arrives, finds it and changes nothing.
    """
    now = uow.clock.now()

    def aborted() -> Charge:
        charge = _new_charge(uow, cmd)
        charge.abort(cancelled_at=cmd.cancelled_at, late=cmd.late, now=now)
        return charge

    charge, recorded = _take_charge(uow, cmd, aborted)
    if recorded:
        audit(uow, None, "charge", charge.id, "aborted", late=cmd.late)
    else:
        if cmd.sequence > charge.appointment_sequence:
            # The cancellation may have overtaken a reschedule (competing consumers): the charge first takes
            # the time it was cancelled at, which a late-cancellation fee is dated by.
            _follow(uow, charge, cmd)
        if charge.apply_cancellation(
            sequence=cmd.sequence, cancelled_at=cmd.cancelled_at, late=cmd.late, now=now
        ):
            audit(uow, None, "charge", charge.id, "aborted", late=cmd.late)
    if cmd.late and not cmd.fee_waived:
        _charge_fee(uow, charge, ChargeKind.LATE_CANCEL_FEE, cmd.sequence)
    return charge


def complete_charge(uow: BillingUnitOfWork, cmd: CompleteCharge) -> Charge:
    """The appointment took place: its charge becomes billable (a completion seen twice changes nothing)."""
    now = uow.clock.now()
    charge, _ = _take_charge(uow, cmd, lambda: _new_charge(uow, cmd))
    package = None
    if charge.status is ChargeStatus.PLANNED:
        package = uow.repo.package_for(
            cmd.clinic_id, cmd.patient_id, cmd.treatment_type_id, cmd.plan_id, charge.service_date
        )
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

    def missed() -> Charge:
        charge = _new_charge(uow, cmd)
        charge.abort(cancelled_at=cmd.marked_at, late=False, now=now)
        return charge

    charge, recorded = _take_charge(uow, cmd, missed)
    if recorded or charge.apply_cancellation(
        sequence=cmd.sequence, cancelled_at=cmd.marked_at, late=False, now=now
    ):
        audit(uow, None, "charge", charge.id, "no_show")
    if not cmd.fee_waived:
        _charge_fee(uow, charge, ChargeKind.NO_SHOW_FEE, cmd.sequence)
    return charge


def reschedule_charge(uow: BillingUnitOfWork, cmd: RescheduleCharge) -> Charge:
    """The planned charge follows the appointment to its new date and is re-priced for it."""
    charge, recorded = _take_charge(uow, cmd, lambda: _new_charge(uow, cmd))
    if recorded:
        # The reschedule overtook its booking: the charge is planned at the new time straight away.
        audit(uow, None, "charge", charge.id, "planned", appointment_id=str(cmd.appointment_id))
        return charge
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


def _follow(uow: BillingUnitOfWork, charge: Charge, cmd: PlanCharge) -> None:
    moved = _new_charge(uow, cmd)
    charge.follow(
        starts_at=moved.starts_at,
        service_date=moved.service_date,
        practitioner_id=moved.practitioner_id,
        treatment_type_id=moved.treatment_type_id,
        amount=moved.amount,
        now=uow.clock.now(),
    )


def _take_charge(
    uow: BillingUnitOfWork, cmd: PlanCharge, first: Callable[[], Charge], *, likely_new: bool = False
) -> tuple[Charge, bool]:
    """The appointment's charge as read under its lock, and whether this transaction recorded it.

    A change is only ever made to a charge read by the locking statement itself: a charge read any other
    way may be changed by a rival worker before this one writes, which would then write over it. With
    none recorded yet, ``first()`` is added unless a rival added the appointment's charge meanwhile (the
    unique (appointment, kind) key decides, waiting for a rival's insert in flight); then the rival's
    charge is taken under its lock instead. ``likely_new`` (a booking) tries to add first, saving the
    locking read in the usual case.
    """
    if not likely_new:
        charge = _locked_charge(uow, cmd.appointment_id)
        if charge is not None:
            return charge, False
    charge = first()
    if uow.repo.add_charge_unless_taken(charge):
        return charge, True
    rival = _locked_charge(uow, cmd.appointment_id)
    if rival is None:
        raise Conflict("this appointment's charge was recorded meanwhile", field="appointment_id")
    return rival, False


def _locked_charge(uow: BillingUnitOfWork, appointment_id: uuid.UUID) -> Charge | None:
    """The appointment's charge, its rows locked until the transaction ends (None: none committed yet)."""
    locked = uow.repo.lock_charges_of(appointment_id)
    return next((charge for charge in locked if charge.kind is ChargeKind.APPOINTMENT), None)


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


def _new_charge(uow: BillingUnitOfWork, cmd: PlanCharge) -> Charge:
    """A planned charge priced for the appointment's date in the clinic's calendar."""
    terms = uow.repo.charge_terms(cmd.clinic_id, cmd.treatment_type_id)
    service_date = local_date(cmd.starts_at, zone_or_utc(terms.timezone))
    in_force = terms.prices.price_on(service_date)
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
    charge.tax_rate_bp = terms.treatment_tax_rate_bp
    return charge
