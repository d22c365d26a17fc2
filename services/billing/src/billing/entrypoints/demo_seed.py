"""The demo clinic's billing behind `billing seed-demo`.

Before the services start: prices and the fee policy (so the charges and fees made from scheduling's
events are priced). Once they run (`--invoices`): an invoice for some past visits, issued, and a payment
on it. Charges come only from scheduling's events, relayed by the workers, so invoicing first waits, with
a deadline, until the visits it bills are billable here. Each step looks first, and records get the
fixed ids of clinic_shared.demo, so running it again adds nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial

from billing.bootstrap import Container
from billing.domain.billing_policy import BillingPolicy, FeeMode
from billing.domain.invoicing import Invoice, InvoiceStatus
from billing.domain.model import ChargeKind, ChargeStatus, Clinic, TreatmentType
from billing.domain.payments import Payment, PaymentMethod
from billing.entrypoints.api.idempotency import IdempotentRequest, once
from billing.service_layer import billing_policy, invoices, payments, prices
from clinic_shared import demo
from clinic_shared.tokens import Principal

PRICES_FROM = date(2020, 1, 1)
CURRENCY = "CAD"
POLL_SECONDS = 0.25

BILLING_CLERK = Principal(
    account_id=demo.BILLING.account_id, roles=frozenset({"billing"}), clinic_id=demo.CLINIC_ID
)


class NotReady(Exception):
    """The visits to invoice did not become billable before the deadline."""


def seed_prices(c: Container) -> int:
    """Give the demo clinic's treatment types their prices unless they have some; returns how many added."""
    added = 0
    for treatment_type_id, cents in demo.DEMO_PRICES.items():
        with c.uow() as uow:
            entry = prices.set_initial_price(
                uow,
                prices.SetPrice(
                    clinic_id=demo.CLINIC_ID,
                    treatment_type_id=treatment_type_id,
                    amount_cents=cents,
                    currency=CURRENCY,
                    effective_from=PRICES_FROM,
                ),
            )
            uow.commit()
        added += entry is not None
    return added


def seed_policy(c: Container) -> bool:
    """The late-cancellation and no-show fees, unless the clinic has a policy; returns whether it was set."""
    with c.uow() as uow:
        if uow.repo.get(BillingPolicy, demo.CLINIC_ID) is not None:
            return False
        billing_policy.set_billing_policy(
            uow,
            BILLING_CLERK,
            billing_policy.SetBillingPolicy(
                clinic_id=demo.CLINIC_ID,
                currency=CURRENCY,
                late_cancel_fee_mode=FeeMode.FIXED,
                late_cancel_fee_value=demo.LATE_CANCEL_FEE_CENTS,
                no_show_fee_mode=FeeMode.PERCENT,
                no_show_fee_value=demo.NO_SHOW_FEE_PERCENT_BP,
                fee_tax_rate_bp=0,
                treatment_tax_rate_bp=0,
                payment_terms_days=30,
            ),
        )
        uow.commit()
    return True


def seed_invoices(c: Container, ids: demo.SeedIds, wait: timedelta) -> list[str]:
    """Invoice each demo invoice's visits and record its payment; returns what was added."""
    deadline = time.monotonic() + wait.total_seconds()
    added: list[str] = []
    for spec in demo.INVOICES:
        patient_id = _wait(partial(_billable, c, spec), deadline, spec)
        with c.uow() as uow:
            invoice = uow.repo.get(Invoice, spec.invoice_id)
        if invoice is None:
            with ids.first(spec.invoice_id), c.uow() as uow:
                invoice = invoices.draft_invoice(
                    uow, BILLING_CLERK, invoices.DraftInvoice(demo.CLINIC_ID, patient_id)
                )
                uow.commit()
            _check_id(invoice.id, spec.invoice_id, "draft_invoice")
        if invoice.status is InvoiceStatus.DRAFT:
            with c.uow() as uow:
                invoice = invoices.issue_invoice(uow, BILLING_CLERK, spec.invoice_id, c.links)
                uow.commit()
            added.append(f"invoice {invoice.number}")
        with c.uow() as uow:
            if uow.repo.get(Payment, spec.payment_id) is not None:
                continue
            invoice = uow.repo.get(Invoice, spec.invoice_id)
            assert invoice is not None
            cents = spec.paid_cents or invoice.balance.cents
        payment = payments.RecordPayment(
            clinic_id=demo.CLINIC_ID,
            patient_id=patient_id,
            amount_cents=cents,
            currency=CURRENCY,
            method=PaymentMethod(spec.method),
            allocations=[payments.AllocationRequest(spec.invoice_id, cents)],
        )
        with ids.first(spec.payment_id), c.uow() as uow:
            outcome = once(
                uow,
                # The key makes a concurrent second seed replay this payment rather than pay twice.
                IdempotentRequest(BILLING_CLERK.account_id, f"demo-seed-{spec.payment_id}", "demo"),
                partial(payments.record_payment, uow, BILLING_CLERK, payment),
                lambda made: (201, {"id": str(made.id)}),
            )
            uow.commit()
        _check_id(uuid.UUID(outcome.body["id"]), spec.payment_id, "record_payment")
        added.append(f"payment of {cents / 100:.2f} {CURRENCY}")
    return added


def _billable(c: Container, spec: demo.DemoInvoice) -> uuid.UUID | None:
    """The patient to invoice, once billing has the clinic and every visit's priced, billable charge."""
    with c.uow() as uow:
        invoice = uow.repo.get(Invoice, spec.invoice_id)
        if invoice is not None:
            return invoice.patient_id
        if uow.repo.get(Clinic, demo.CLINIC_ID) is None:
            return None
        visits = [uow.repo.charge_for(visit, ChargeKind.APPOINTMENT) for visit in spec.visits]
        ready = [
            charge
            for charge in visits
            if charge is not None and charge.status is ChargeStatus.BILLABLE and charge.amount is not None
        ]
        if len(ready) < len(spec.visits):
            return None
        # Lines are described by treatment name: wait for those copies too.
        if any(uow.repo.get(TreatmentType, charge.treatment_type_id) is None for charge in ready):
            return None
        return ready[0].patient_id


def _wait(check: Callable[[], uuid.UUID | None], deadline: float, spec: demo.DemoInvoice) -> uuid.UUID:
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise NotReady(
                f"the charges of {len(spec.visits)} demo visits were not billable in time (are the workers "
                "running? did scheduling's seed skip a visit? `make clean` starts the demo afresh)"
            )
        time.sleep(POLL_SECONDS)


def _check_id(made: uuid.UUID, wanted: uuid.UUID, use_case: str) -> None:
    # Fixed ids are handed out in the order the use case asks for ids; if that changes, say so.
    if made != wanted:
        raise RuntimeError(f"{use_case} no longer takes the demo's fixed id first; update demo_seed.py")
