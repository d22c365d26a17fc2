"""A clinic's billing policy: fees for late cancellations and missed visits, tax rates, payment terms."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from billing.domain.billing_policy import BillingPolicy, FeeMode
from billing.domain.errors import Conflict, NotFound
from billing.service_layer.audit import audit
from billing.service_layer.tenancy import ensure_acts_in
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal


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
