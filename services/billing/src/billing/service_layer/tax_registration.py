"""Billing staff keep each clinic's GST/HST registration number; documents print it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from billing.domain.errors import Conflict
from billing.domain.tax_registration import TaxRegistration
from billing.service_layer.audit import audit
from billing.service_layer.tenancy import ensure_acts_in
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal


@dataclass(frozen=True)
class SetTaxRegistration:
    clinic_id: uuid.UUID
    gst_hst_number: str | None


def set_tax_registration(
    uow: BillingUnitOfWork, actor: Principal, cmd: SetTaxRegistration
) -> TaxRegistration:
    """Record the clinic's number (None: not registered); documents rendered from now on print it."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    now = uow.clock.now()
    registration = uow.repo.get_for_update(TaxRegistration, cmd.clinic_id)
    # A lost race: another first registration of this clinic committed in between.
    with uow.conflicts_as(
        Conflict("the registration was changed concurrently; try again", field="clinic_id")
    ):
        if registration is None:
            registration = TaxRegistration(cmd.clinic_id)
            registration.change(cmd.gst_hst_number, now=now, by=actor.account_id)
            uow.repo.add(registration)
        else:
            registration.change(cmd.gst_hst_number, now=now, by=actor.account_id)
        audit(
            uow,
            actor.account_id,
            "tax_registration",
            cmd.clinic_id,
            "set",
            gst_hst_number=registration.gst_hst_number,
        )
    return registration


def get_tax_registration(uow: BillingUnitOfWork, actor: Principal, clinic_id: uuid.UUID) -> TaxRegistration:
    """What billing has on file; a clinic with nothing recorded reads as not registered."""
    ensure_acts_in(actor, clinic_id, field="clinic_id")
    return uow.repo.get(TaxRegistration, clinic_id) or TaxRegistration(clinic_id)


def gst_hst_number_of(uow: BillingUnitOfWork, clinic_id: uuid.UUID) -> str | None:
    """The clinic's GST/HST registration number, or None when billing has none on file."""
    registration = uow.repo.get(TaxRegistration, clinic_id)
    return registration.gst_hst_number if registration is not None else None
