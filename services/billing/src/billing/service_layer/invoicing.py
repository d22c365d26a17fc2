"""Invoices, credit notes and payments: the use cases billing staff drive through the API.

Issuing takes a gapless number from a counter row locked inside the issuing transaction, so a rollback
returns the number with everything else (as everywhere in the service layer, the caller commits).
Money-moving requests are made at most once per idempotency key by the API (entrypoints/api/idempotency.py);
the use cases here only do the work, and a housekeeping job purges the keys once their retention is over.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from billing.domain.errors import Conflict, NotFound, RuleViolation
from billing.domain.invoicing import (
    BillingPolicy,
    Coverage,
    CreditApplication,
    CreditNote,
    Invoice,
    InvoiceStatus,
    PayerKind,
    Payment,
    PaymentMethod,
    credit_note_number,
    invoice_number,
)
from billing.domain.model import Charge, ChargeKind, Clinic, Package, Patient, TreatmentType, local_date
from billing.domain.money import Money
from billing.service_layer.ports import DocumentLinks
from billing.service_layer.services import Page, audit
from billing.service_layer.tenancy import (
    clinic_filter,
    ensure_acts_in,
    ensure_patient_in_reach,
    staff_outside,
)
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal

INVOICE_SERIES = "INV"
CREDIT_NOTE_SERIES = "CN"


# --- idempotency keys ----------------------------------------------------------------------------------


def purge_idempotency_keys(
    uow_factory: Callable[[], BillingUnitOfWork], retention: timedelta, *, batch_size: int = 1000
) -> int:
    """Delete the keys older than ``retention``, one short transaction per batch; returns how many.

    Once its key is gone, a repeated request is a new request: it acts again and gets a fresh response.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff: datetime | None = None
    purged = 0
    while True:
        with uow_factory() as uow:
            cutoff = cutoff or uow.clock.now() - retention
            deleted = uow.repo.purge_idempotency_keys(cutoff, batch_size)
            uow.commit()
        purged += deleted
        if deleted < batch_size:
            return purged


# --- invoices ------------------------------------------------------------------------------------------


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
    year); the patient's invoice holds the remainder. Either draft is left out when it would be empty.
    """
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    coverage = uow.repo.get_for_update(Coverage, cmd.coverage_id)
    if coverage is None or (coverage.patient_id, coverage.clinic_id) != (cmd.patient_id, cmd.clinic_id):
        raise NotFound("coverage not found for this patient and clinic", field="coverage_id")
    charges, currency = _invoiceable(uow, cmd)
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
            share = coverage.payer_share(charge.amount, used[year])
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


# --- coverages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddCoverage:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    payer_kind: PayerKind
    currency: str = "CAD"
    claim_number: str | None = None
    date_of_injury: date | None = None
    employer_name: str | None = None
    insurer_fee_cents: int | None = None
    coverage_bp: int | None = None
    per_visit_max_cents: int | None = None
    annual_max_cents: int | None = None
    policy_number: str | None = None


def add_coverage(uow: BillingUnitOfWork, actor: Principal, cmd: AddCoverage) -> Coverage:
    """Record a patient's WorkSafeBC claim, ICBC claim or extended health plan, for a clinic and a patient
    billing has heard of (from scheduling's events). Clinic-scoped staff add coverages at their clinic."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    if uow.repo.get(Patient, cmd.patient_id) is None:
        raise NotFound("patient not found", field="patient_id")
    if uow.repo.get(Clinic, cmd.clinic_id) is None:
        raise NotFound("clinic not found", field="clinic_id")
    coverage = Coverage(id=uow.new_id(), created_at=uow.clock.now(), **vars(cmd))
    uow.repo.add(coverage)
    audit(uow, actor.account_id, "coverage", coverage.id, "added", payer_kind=str(cmd.payer_kind))
    return coverage


def list_coverages(
    uow: BillingUnitOfWork, actor: Principal, patient_id: uuid.UUID, page: Page
) -> tuple[Sequence[Coverage], int]:
    """A patient's coverages: clinic-scoped staff see those at their clinic, and only of a patient with a
    charge or an invoice there; organisation-wide staff see all."""
    ensure_patient_in_reach(uow, actor, patient_id)
    return uow.repo.list_coverages(
        patient_id, offset=page.offset, limit=page.limit, clinic_id=clinic_filter(actor, None)
    )


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


def list_credit_notes(
    uow: BillingUnitOfWork, actor: Principal, invoice_id: uuid.UUID
) -> Sequence[CreditNote]:
    """An invoice's credit notes, oldest first: staff, or the patient the (issued) invoice is for."""
    invoice = get_invoice(uow, actor, invoice_id)
    return uow.repo.credit_notes_for(invoice.id)


def patient_credit_for(
    uow: BillingUnitOfWork, actor: Principal, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> Money:
    """The patient's unapplied credit at a clinic: front desk and billing staff, or the patient themself."""
    if not actor.is_staff and actor.patient_id != patient_id:
        raise NotFound("patient not found")
    ensure_acts_in(actor, clinic_id, field="clinic_id")
    return patient_credit(uow, clinic_id, patient_id)


# --- credit notes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueCreditNote:
    invoice_id: uuid.UUID
    reason: str
    amount_cents: int | None = None
    void: bool = False


def issue_credit_note(uow: BillingUnitOfWork, actor: Principal, cmd: IssueCreditNote) -> CreditNote:
    """Correct an issued invoice by a credit note; a void credits the whole unpaid total and cancels it."""
    invoice = uow.repo.get_for_update(Invoice, cmd.invoice_id)
    if invoice is None or not actor.acts_in(invoice.clinic_id):
        raise NotFound("invoice not found")
    if cmd.void == (cmd.amount_cents is not None):
        raise RuleViolation("give either amount_cents (partial) or void=true (full)", field="amount_cents")
    if not cmd.reason.strip():
        raise RuleViolation("a credit note needs a reason", field="reason")
    amount = invoice.creditable if cmd.void else Money(cmd.amount_cents or 0, invoice.currency)
    now = uow.clock.now()
    earlier = uow.repo.credit_notes_for(invoice.id)
    clinic = _clinic(uow, invoice.clinic_id)
    year = local_date(now, clinic.zone).year
    note = CreditNote.issue(
        note_id=uow.new_id(),
        number=credit_note_number(
            clinic.code, year, uow.repo.next_number(clinic.id, CREDIT_NOTE_SERIES, year)
        ),
        invoice=invoice,
        earlier=earlier,
        amount=amount,
        reason=cmd.reason,
        void=cmd.void,
        now=now,
        by=actor.account_id,
        new_id=uow.new_id,
    )
    uow.repo.add(note)
    audit(
        uow,
        actor.account_id,
        "invoice",
        invoice.id,
        "voided" if cmd.void else "credited",
        credit_note=note.number,
        amount_cents=amount.cents,
        reason=cmd.reason,
    )
    uow.emit(
        "billing.credit_note.issued",
        {
            "credit_note_id": note.id,
            "number": note.number,
            "invoice_id": invoice.id,
            "clinic_id": invoice.clinic_id,
            "patient_id": invoice.patient_id,
            "amount_cents": amount.cents,
            "currency": amount.currency,
            "issued_at": now,
            "voids_invoice": cmd.void,
        },
    )
    uow.flush()
    return note


# --- payments ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationRequest:
    invoice_id: uuid.UUID
    amount_cents: int


@dataclass(frozen=True)
class RecordPayment:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    amount_cents: int
    currency: str
    method: PaymentMethod
    allocations: Sequence[AllocationRequest] = ()
    received_at: datetime | None = None


def record_payment(uow: BillingUnitOfWork, actor: Principal, cmd: RecordPayment) -> Payment:
    """Record money received and allocate it across invoices; what is left over is the patient's credit."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    amount = Money(cmd.amount_cents, cmd.currency)
    if amount.is_zero or amount.is_negative:
        raise RuleViolation("a payment is a positive amount", field="amount_cents")
    if len({a.invoice_id for a in cmd.allocations}) != len(cmd.allocations):
        raise RuleViolation("allocate to each invoice once", field="allocations")
    now = uow.clock.now()
    payment = Payment(
        id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        method=cmd.method,
        amount=amount,
        received_at=cmd.received_at or now,
        recorded_by=actor.account_id,
        unallocated_cents=amount.cents,
    )
    # Locked in a fixed order so that two payments touching the same invoices cannot deadlock.
    for request in sorted(cmd.allocations, key=lambda a: a.invoice_id):
        invoice = uow.repo.get_for_update(Invoice, request.invoice_id)
        if invoice is None or not actor.acts_in(invoice.clinic_id):
            raise NotFound("invoice not found", field="allocations")
        if invoice.currency != amount.currency:
            raise RuleViolation(f"that invoice is in {invoice.currency}", field="allocations")
        payment.allocate(uow.new_id(), invoice, Money(request.amount_cents, amount.currency), now)
    uow.repo.add(payment)
    audit(
        uow,
        actor.account_id,
        "payment",
        payment.id,
        "received",
        method=str(cmd.method),
        amount_cents=amount.cents,
        allocations={str(a.invoice_id): a.amount.cents for a in payment.allocations},
    )
    uow.emit(
        "billing.payment.received",
        {
            "payment_id": payment.id,
            "clinic_id": payment.clinic_id,
            "patient_id": payment.patient_id,
            "amount_cents": amount.cents,
            "currency": amount.currency,
            "method": str(payment.method),
            "received_at": payment.received_at,
            "allocations": [
                {"invoice_id": a.invoice_id, "amount_cents": a.amount.cents} for a in payment.allocations
            ],
        },
    )
    uow.flush()
    return payment


@dataclass(frozen=True)
class RefundPayment:
    payment_id: uuid.UUID
    amount_cents: int
    reason: str


def refund_payment(uow: BillingUnitOfWork, actor: Principal, cmd: RefundPayment) -> Payment:
    """Pay back part of a payment's unallocated credit; the refund references the original payment."""
    original = uow.repo.get_for_update(Payment, cmd.payment_id)
    if original is None or not actor.acts_in(original.clinic_id):
        raise NotFound("payment not found")
    if not cmd.reason.strip():
        raise RuleViolation("a refund needs a reason", field="reason")
    amount = Money(cmd.amount_cents, original.amount.currency)
    original.take_refund(amount)
    refund = Payment(
        id=uow.new_id(),
        clinic_id=original.clinic_id,
        patient_id=original.patient_id,
        method=original.method,
        amount=amount,
        received_at=uow.clock.now(),
        recorded_by=actor.account_id,
        unallocated_cents=0,
        refund_of=original.id,
        reason=cmd.reason,
    )
    uow.repo.add(refund)
    audit(
        uow,
        actor.account_id,
        "payment",
        original.id,
        "refunded",
        refund_id=str(refund.id),
        amount_cents=amount.cents,
        reason=cmd.reason,
    )
    uow.flush()
    return refund


def get_payment(uow: BillingUnitOfWork, actor: Principal, payment_id: uuid.UUID) -> Payment:
    payment = uow.repo.get(Payment, payment_id)
    if (
        payment is None
        or staff_outside(actor, payment.clinic_id)
        or (not actor.is_staff and actor.patient_id != payment.patient_id)
    ):
        raise NotFound("payment not found")
    return payment


def list_payments(
    uow: BillingUnitOfWork,
    actor: Principal,
    page: Page,
    patient_id: uuid.UUID | None,
    clinic_id: uuid.UUID | None = None,
) -> tuple[Sequence[Payment], int]:
    """Staff see their clinic's payments (every clinic's when organisation-wide); a patient their own."""
    clinic_id = clinic_filter(actor, clinic_id)
    if not actor.is_staff:
        if actor.patient_id is None or patient_id not in (None, actor.patient_id):
            return [], 0
        patient_id = actor.patient_id
    return uow.repo.list_payments(
        offset=page.offset, limit=page.limit, patient_id=patient_id, clinic_id=clinic_id
    )


@dataclass(frozen=True)
class ApplyCredit:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    currency: str
    allocations: Sequence[AllocationRequest]


def apply_patient_credit(uow: BillingUnitOfWork, actor: Principal, cmd: ApplyCredit) -> CreditApplication:
    """Put the patient's credit towards issued invoices (settling them like a payment would).

    No money is received: no payment is recorded, no ``billing.payment.received`` is emitted (it would
    send the patient a receipt for money they did not pay), and the payments report is unchanged.
    """
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    # The credit's payments are locked before the invoices, each set in a fixed order: a concurrent
    # application waits here and then sees what is left. Payments lock invoices only and refunds one
    # payment, so no lock cycle with them either.
    sources = uow.repo.credit_sources(cmd.clinic_id, cmd.patient_id, cmd.currency)
    invoices: dict[uuid.UUID, Invoice] = {}
    for invoice_id in sorted({a.invoice_id for a in cmd.allocations}):
        invoice = uow.repo.get_for_update(Invoice, invoice_id)
        if invoice is None or not actor.acts_in(invoice.clinic_id):
            raise NotFound("invoice not found", field="allocations")
        invoices[invoice_id] = invoice
    now = uow.clock.now()
    application = CreditApplication.apply(
        application_id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        sources=sources,
        requests=[(invoices[a.invoice_id], Money(a.amount_cents, cmd.currency)) for a in cmd.allocations],
        new_id=uow.new_id,
        now=now,
        by=actor.account_id,
    )
    uow.repo.add(application)
    drawn = [
        {"payment_id": str(a.payment_id), "invoice_id": str(a.invoice_id), "amount_cents": a.amount.cents}
        for a in application.allocations
    ]
    audit(
        uow,
        actor.account_id,
        "credit_application",
        application.id,
        "applied",
        amount_cents=application.amount.cents,
        currency=application.amount.currency,
        allocations=drawn,
    )
    for payment_id in sorted({a.payment_id for a in application.allocations}):
        audit(
            uow,
            actor.account_id,
            "payment",
            payment_id,
            "credit_applied",
            credit_application_id=str(application.id),
            allocations=[d for d in drawn if d["payment_id"] == str(payment_id)],
        )
    uow.flush()
    return application


def patient_credit(uow: BillingUnitOfWork, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> Money:
    clinic = uow.repo.get(Clinic, clinic_id)
    return Money(uow.repo.patient_credit_cents(clinic_id, patient_id), clinic.currency if clinic else "CAD")


# --- treatment packages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SellPackage:
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    treatment_type_id: uuid.UUID
    sessions: int
    amount_cents: int
    currency: str
    plan_id: uuid.UUID | None = None


def sell_package(uow: BillingUnitOfWork, actor: Principal, cmd: SellPackage) -> Package:
    """Sell prepaid sessions: the package, and a draft invoice for its price to review and issue."""
    ensure_acts_in(actor, cmd.clinic_id, field="clinic_id")
    now = uow.clock.now()
    price = Money(cmd.amount_cents, cmd.currency)
    package = Package(
        id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        treatment_type_id=cmd.treatment_type_id,
        sessions_total=cmd.sessions,
        sessions_used=0,
        price=price,
        sold_at=now,
        updated_at=now,
        plan_id=cmd.plan_id,
    )
    invoice = Invoice.draft(
        invoice_id=uow.new_id(),
        clinic_id=cmd.clinic_id,
        patient_id=cmd.patient_id,
        currency=price.currency,
        now=now,
    )
    treatment = uow.repo.get(TreatmentType, cmd.treatment_type_id)
    invoice.add_line(
        line_id=uow.new_id(),
        charge_id=None,
        description=f"{treatment.name if treatment else 'Treatment'} package, {cmd.sessions} sessions",
        service_date=local_date(now, _clinic(uow, cmd.clinic_id).zone),
        practitioner_id=None,
        treatment_type_id=cmd.treatment_type_id,
        amount=price,
        tax_rate_bp=0,
        position=0,
    )
    package.invoice_id = invoice.id
    uow.repo.add(package)
    uow.repo.add(invoice)
    audit(
        uow,
        actor.account_id,
        "package",
        package.id,
        "sold",
        sessions=cmd.sessions,
        invoice_id=str(invoice.id),
    )
    return package


def list_packages(
    uow: BillingUnitOfWork, actor: Principal, patient_id: uuid.UUID, page: Page
) -> tuple[Sequence[Package], int]:
    """A patient's packages: clinic-scoped staff see those sold at their clinic, and only of a patient with
    a charge or an invoice there; organisation-wide staff see all."""
    ensure_patient_in_reach(uow, actor, patient_id)
    return uow.repo.list_packages(
        patient_id, offset=page.offset, limit=page.limit, clinic_id=clinic_filter(actor, None)
    )
