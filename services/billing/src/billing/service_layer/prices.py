"""A clinic's price list: a price per treatment type with the date it takes effect."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from billing.domain.errors import Conflict, NotFound, RuleViolation
from billing.domain.model import Clinic, PriceListEntry, TreatmentType, local_date, price_on, zone_of
from billing.domain.money import Money
from billing.service_layer.audit import audit
from billing.service_layer.tenancy import ensure_acts_in
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal


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
            today=local_date(now, zone_of(clinic)),
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
    day = on or local_date(uow.clock.now(), zone_of(uow.repo.get(Clinic, clinic_id)))
    entries, _ = uow.repo.list_prices(clinic_id, offset=0, limit=10_000)
    by_treatment: dict[uuid.UUID, list[PriceListEntry]] = {}
    for entry in entries:
        by_treatment.setdefault(entry.treatment_type_id, []).append(entry)
    in_force = (price_on(listed, day) for listed in by_treatment.values())
    return [entry for entry in in_force if entry is not None]
