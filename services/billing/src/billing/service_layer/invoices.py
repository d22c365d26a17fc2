"""Invoices: drafted from a patient's charges (one invoice, or split between a payer and the patient),
reviewed, issued or discarded.

Issuing takes a gapless number from a counter row locked inside the issuing transaction, so a rollback
returns the number with everything else (as everywhere in the service layer, the caller commits).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from billing.domain.billing_policy import BillingPolicy
from billing.domain.coverages import Coverage
from billing.domain.errors import Conflict, NotFound, RuleViolation
from billing.domain.invoicing import Invoice, InvoiceStatus, invoice_number
from billing.domain.model import Charge, ChargeKind, Clinic, TreatmentType, local_date
from billing.domain.money import Money
from billing.service_layer.audit import audit
from billing.service_layer.ports import DocumentLinks
from billing.service_layer.tenancy import clinic_filter, ensure_acts_in, staff_outside
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.pagination import Page
from clinic_shared.tokens import Principal

INVOICE_SERIES = "INV"


@dataclass(frozen=True)
class DraftInvoice:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID


@dataclass(frozen=True)
class DraftSplitInvoices(DraftInvoice):
    coverage_id: uuid.UUID


def draft_invoice(uow: BillingUnitOfWork, actor: Principal, cmd: DraftInvoice) -> Invoice:
    """Gather the patient's billable, priced charges at the clinic into a draft for review."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    charges, currency = _invoiceable(uow, cmd)
    now = uow.clock.now()
    invoice = Invoice.draft(
        invoice_id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        currency=currency,
        now=now,
    )
    with uow.conflicts_as(_invoiced_meanwhile()):
        for charge in charges:
            assert charge.amount is not None  # _invoiceable returns priced charges only
            invoice.bill_charge(
                line_id=uow.new_id(), charge=charge, amount=charge.amount, description=_describe(uow, charge)
            )
            charge.put_on_invoice(invoice.id, now)
        uow.repo.add(invoice)
        audit(uow, actor.account_id, "invoice", invoice.id, "drafted", charges=[str(c.id) for c in charges])
    return invoice


def draft_split_invoices(uow: BillingUnitOfWork, actor: Principal, cmd: DraftSplitInvoices) -> list[Invoice]:
    """Split the patient's billable charges between a third-party payer and the patient: one draft each.

    The payer's share of each charge follows its coverage (and what that coverage already paid in the
    year); the patient's invoice holds the remainder, and the whole of a visit outside the coverage's days.
    Either draft is left out when it would be empty; a coverage that covers none of the visits is refused.
    """
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    coverage = uow.repo.get_for_update(Coverage, cmd.coverage_id)
    if coverage is None or (coverage.patient_id, coverage.clinic_id) != (cmd.patient_id, cmd.clinic_id):
        raise NotFound("coverage not found for this patient and clinic", field="coverage_id")
    charges, currency = _invoiceable(uow, cmd)
    if not any(coverage.covers(charge.service_date) for charge in charges):
        raise RuleViolation(
            "none of the visits to invoice falls within this coverage's days", field="coverage_id"
        )
    now = uow.clock.now()
    payer = Invoice.draft(
        invoice_id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        currency=currency,
        now=now,
        payer_kind=coverage.payer_kind,
        coverage_id=coverage.id,
    )
    patient = Invoice.draft(
        invoice_id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        currency=currency,
        now=now,
    )
    used: dict[int, Money] = {}
    with uow.conflicts_as(_invoiced_meanwhile()):
        for charge in charges:
            assert charge.amount is not None
            year = charge.service_date.year
            if year not in used:
                used[year] = Money(uow.repo.coverage_used_cents(coverage.id, year), currency)
            if coverage.covers(charge.service_date):
                share = coverage.payer_share(charge.amount, used[year])
            else:
                share = Money.zero(currency)
            used[year] += share
            description = _describe(uow, charge)
            if not share.is_zero:
                payer.bill_charge(line_id=uow.new_id(), charge=charge, amount=share, description=description)
            if charge.amount - share > Money.zero(currency):
                patient.bill_charge(
                    line_id=uow.new_id(), charge=charge, amount=charge.amount - share, description=description
                )
            charge.put_on_invoice(payer.id if not share.is_zero else patient.id, now)
        drafts = [invoice for invoice in (payer, patient) if invoice.lines]
        for invoice in drafts:
            uow.repo.add(invoice)
            audit(
                uow,
                actor.account_id,
                "invoice",
                invoice.id,
                "drafted",
                payer_kind=str(invoice.payer_kind),
                charges=[str(line.charge_id) for line in invoice.lines],
            )
    return drafts


def _invoiced_meanwhile() -> Conflict:
    return Conflict("these charges were invoiced concurrently; try again", field="patient_id")


def _invoiceable(uow: BillingUnitOfWork, cmd: DraftInvoice) -> tuple[list[Charge], str]:
    charges = sorted(
        uow.repo.invoiceable_charges(cmd.clinic_id, cmd.patient_id), key=lambda c: (c.starts_at, c.kind)
    )
    if not charges:
        raise RuleViolation("this patient has no billable charges to invoice", field="patient_id")
    currencies = {charge.amount.currency for charge in charges if charge.amount is not None}
    if len(currencies) > 1:
        raise RuleViolation("charges in several currencies cannot share an invoice", field="patient_id")
    return charges, currencies.pop()


def _describe(uow: BillingUnitOfWork, charge: Charge) -> str:
    if charge.kind is ChargeKind.LATE_CANCEL_FEE:
        return "Late cancellation fee"
    if charge.kind is ChargeKind.NO_SHOW_FEE:
        return "Missed appointment fee"
    treatment = uow.repo.get(TreatmentType, charge.treatment_type_id)
    return treatment.name if treatment is not None else "Treatment"


def issue_invoice(
    uow: BillingUnitOfWork, actor: Principal, invoice_id: uuid.UUID, links: DocumentLinks
) -> Invoice:
    """Issue a draft: the next gapless number of the clinic's year, taken in this same transaction.

    The event carries a signed download link to the PDF when links are configured (else nulls).
    """
    invoice = uow.repo.get_for_update(Invoice, invoice_id)
    if invoice is None or not actor.acts_in(invoice.clinic_id):
        raise NotFound("invoice not found")
    if invoice.status is not InvoiceStatus.DRAFT:
        raise Conflict(f"only a draft invoice can be issued (this one is {invoice.status})", field="status")
    clinic = _clinic(uow, invoice.clinic_id)
    now = uow.clock.now()
    year = local_date(now, clinic.zone).year
    number = invoice_number(clinic.code, year, uow.repo.next_number(clinic.id, INVOICE_SERIES, year))
    policy = uow.repo.get(BillingPolicy, clinic.id)
    terms = policy.payment_terms_days if policy is not None else 30
    due_date = local_date(now, clinic.zone) + timedelta(terms)
    invoice.issue(number=number, by=actor.account_id, now=now, due_date=due_date)
    audit(uow, actor.account_id, "invoice", invoice.id, "issued", number=number)
    link = links.invoice_link(invoice.id, now)
    uow.emit(
        "billing.invoice.issued",
        {
            "invoice_id": invoice.id,
            "number": number,
            "clinic_id": invoice.clinic_id,
            "patient_id": invoice.patient_id,
            "payer_kind": str(invoice.payer_kind),
            "total_cents": invoice.total.cents,
            "balance_cents": invoice.balance.cents,
            "currency": invoice.currency,
            "issued_at": now,
            "due_date": due_date,
            "document_url": link.url if link else None,
            "document_expires_at": link.expires_at if link else None,
        },
    )
    return invoice


def discard_draft(uow: BillingUnitOfWork, actor: Principal, invoice_id: uuid.UUID) -> None:
    """Throw away a draft after review: its charges become billable again (issued invoices are credited)."""
    invoice = uow.repo.get_for_update(Invoice, invoice_id)
    if invoice is None or not actor.acts_in(invoice.clinic_id):
        raise NotFound("invoice not found")
    if invoice.status is not InvoiceStatus.DRAFT:
        raise Conflict(
            "only a draft can be discarded; correct an issued invoice by a credit note", field="status"
        )
    if invoice.coverage_id is not None or any(line.charge_id is None for line in invoice.lines):
        raise RuleViolation("split-payer and package drafts are issued, then credited", field="invoice_id")
    now = uow.clock.now()
    for line in invoice.lines:
        assert line.charge_id is not None
        charge = uow.repo.get_for_update(Charge, line.charge_id)
        if charge is not None:
            charge.release_from_invoice(invoice.id, now)
    audit(uow, actor.account_id, "invoice", invoice.id, "discarded")
    uow.repo.delete(invoice)


def _clinic(uow: BillingUnitOfWork, clinic_id: uuid.UUID) -> Clinic:
    clinic = uow.repo.get(Clinic, clinic_id)
    if clinic is None:
        raise RuleViolation("the clinic's details have not reached billing yet", field="clinic_id")
    return clinic


def get_invoice(uow: BillingUnitOfWork, actor: Principal, invoice_id: uuid.UUID) -> Invoice:
    """Staff see their clinic's invoices (any clinic's when organisation-wide); a patient their own once
    issued (a draft is still being prepared)."""
    invoice = uow.repo.get(Invoice, invoice_id)
    if (
        invoice is None
        or staff_outside(actor, invoice.clinic_id)
        or (
            not actor.is_staff
            and (actor.patient_id != invoice.patient_id or invoice.status is InvoiceStatus.DRAFT)
        )
    ):
        raise NotFound("invoice not found")
    return invoice


@dataclass(frozen=True)
class InvoiceFilter:
    clinic_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    status: InvoiceStatus | None = None


def list_invoices(
    uow: BillingUnitOfWork, actor: Principal, page: Page, query: InvoiceFilter
) -> tuple[Sequence[Invoice], int]:
    """Staff see their clinic's invoices (every clinic's when organisation-wide); a patient only their own
    issued ones."""
    patient_id, status, clinic_id = query.patient_id, query.status, clinic_filter(actor, query.clinic_id)
    if not actor.is_staff:
        if actor.patient_id is None or patient_id not in (None, actor.patient_id):
            return [], 0
        if status is InvoiceStatus.DRAFT:
            return [], 0
        patient_id = actor.patient_id
    items, total = uow.repo.list_invoices(
        offset=page.offset,
        limit=page.limit,
        clinic_id=clinic_id,
        patient_id=patient_id,
        status=status,
        issued_only=not actor.is_staff,
    )
    return items, total
