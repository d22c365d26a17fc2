"""Invoice, official-receipt and credit note documents: the facts gathered for rendering, and the renderer.

The document is assembled here from billing's own records and its copies of scheduling's clinic,
practitioner, treatment and patient; an adapter turns it into a PDF. An issued invoice's or a credit
note's PDF can also be opened without signing in through a signed, expiring link (the DocumentLinks port).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from billing.domain.coverages import Coverage
from billing.domain.credit_notes import CreditNote
from billing.domain.errors import NotFound, RuleViolation
from billing.domain.invoicing import Invoice, InvoiceLine, InvoiceStatus
from billing.domain.model import Clinic, Patient, Practitioner, local_date
from billing.domain.money import Money
from billing.service_layer.audit import audit
from billing.service_layer.invoices import get_invoice
from billing.service_layer.ports import DocumentKind, DocumentLink, DocumentLinks, DocumentLinksDisabled
from billing.service_layer.tax_registration import gst_hst_number_of
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal


@dataclass(frozen=True)
class DocumentLine:
    service_date: date
    description: str
    practitioner: str
    registration_number: str
    amount: Money
    tax: Money


@dataclass(frozen=True)
class DocumentPayment:
    received_on: date
    method: str
    amount: Money


@dataclass(frozen=True)
class DocumentCreditNote:
    """A credit note as an invoice lists it."""

    number: str
    issued_on: date
    amount: Money


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything printed on an invoice or an official receipt."""

    title: str
    number: str
    issued_on: date
    due_date: date | None
    status: str
    clinic_name: str
    clinic_address: str
    clinic_contact: str
    patient_name: str
    bill_to: str
    lines: list[DocumentLine]
    subtotal: Money
    tax: Money
    credited: Money
    total: Money
    paid: Money
    balance: Money
    payments: list[DocumentPayment] = field(default_factory=list)
    claim_facts: list[str] = field(default_factory=list)
    credit_notes: list[DocumentCreditNote] = field(default_factory=list)
    gst_hst_number: str | None = None


@dataclass(frozen=True)
class CreditNoteDocument:
    """Everything printed on a credit note: what it takes back of which invoice's lines, and why."""

    number: str
    issued_on: date
    invoice_number: str
    invoice_issued_on: date
    voids_invoice: bool
    reason: str
    clinic_name: str
    clinic_address: str
    clinic_contact: str
    patient_name: str
    bill_to: str
    lines: list[DocumentLine]
    subtotal: Money
    tax: Money
    total: Money
    gst_hst_number: str | None = None


class DocumentRenderer(Protocol):
    """Turns a document into the bytes of a PDF."""

    def render(self, document: InvoiceDocument) -> bytes: ...

    def render_credit_note(self, document: CreditNoteDocument) -> bytes: ...


_PAYERS = {"worksafebc": "WorkSafeBC", "icbc": "ICBC", "extended_health": "Extended health plan"}


def invoice_document(
    uow: BillingUnitOfWork, actor: Principal, invoice_id: uuid.UUID, *, receipt: bool = False
) -> InvoiceDocument:
    """The issued invoice (or, for ``receipt``, the official receipt of what was paid on it)."""
    return _document(uow, get_invoice(uow, actor, invoice_id), receipt=receipt)


def _document(uow: BillingUnitOfWork, invoice: Invoice, *, receipt: bool) -> InvoiceDocument:
    if invoice.status is InvoiceStatus.DRAFT or invoice.number is None or invoice.issued_at is None:
        raise NotFound("only issued invoices have a document")
    clinic = _clinic(uow, invoice.clinic_id)
    payments = _payments(uow, invoice, clinic)
    if receipt and not payments:
        raise RuleViolation("nothing has been paid on this invoice yet", field="invoice_id")
    patient_name = _patient_name(uow, invoice.patient_id)
    return InvoiceDocument(
        title="Official receipt" if receipt else "Invoice",
        number=invoice.number,
        issued_on=local_date(invoice.issued_at, clinic.zone),
        due_date=invoice.due_date,
        status=str(invoice.status),
        clinic_name=clinic.name,
        clinic_address=clinic.address,
        clinic_contact=f"{clinic.phone}  {clinic.email}",
        patient_name=patient_name,
        bill_to=_PAYERS.get(str(invoice.payer_kind), patient_name),
        lines=[_line(uow, line, line.amount, line.tax) for line in invoice.lines],
        subtotal=invoice.subtotal,
        tax=invoice.tax,
        credited=invoice.credited,
        total=invoice.total,
        paid=invoice.paid,
        balance=invoice.balance,
        payments=payments,
        claim_facts=_claim_facts(uow, invoice),
        credit_notes=[
            DocumentCreditNote(note.number, local_date(note.issued_at, clinic.zone), note.amount)
            for note in uow.repo.credit_notes_for(invoice.id)
        ],
        gst_hst_number=gst_hst_number_of(uow, invoice.clinic_id),
    )


def _credit_note_document(uow: BillingUnitOfWork, note: CreditNote, invoice: Invoice) -> CreditNoteDocument:
    # Only issued invoices are credited, so both are set.
    assert invoice.number is not None
    assert invoice.issued_at is not None
    clinic = _clinic(uow, invoice.clinic_id)
    patient_name = _patient_name(uow, invoice.patient_id)
    invoice_lines = {line.id: line for line in invoice.lines}
    return CreditNoteDocument(
        number=note.number,
        issued_on=local_date(note.issued_at, clinic.zone),
        invoice_number=invoice.number,
        invoice_issued_on=local_date(invoice.issued_at, clinic.zone),
        voids_invoice=note.voids_invoice,
        reason=note.reason,
        clinic_name=clinic.name,
        clinic_address=clinic.address,
        clinic_contact=f"{clinic.phone}  {clinic.email}",
        patient_name=patient_name,
        bill_to=_PAYERS.get(str(invoice.payer_kind), patient_name),
        lines=[
            _line(uow, invoice_lines[taken.invoice_line_id], taken.amount, taken.tax) for taken in note.lines
        ],
        subtotal=note.subtotal,
        tax=note.tax,
        total=note.amount,
        gst_hst_number=gst_hst_number_of(uow, invoice.clinic_id),
    )


def _clinic(uow: BillingUnitOfWork, clinic_id: uuid.UUID) -> Clinic:
    clinic = uow.repo.get(Clinic, clinic_id)
    if clinic is None:
        raise RuleViolation("the clinic's details have not reached billing yet", field="clinic_id")
    return clinic


def _patient_name(uow: BillingUnitOfWork, patient_id: uuid.UUID) -> str:
    patient = uow.repo.get(Patient, patient_id)
    return f"{patient.first_name} {patient.last_name}" if patient else f"Patient {patient_id}"


def _line(uow: BillingUnitOfWork, line: InvoiceLine, amount: Money, tax: Money) -> DocumentLine:
    """``line`` as printed, for ``amount`` and ``tax`` (all of it on an invoice, a part on a credit note)."""
    practitioner = uow.repo.get(Practitioner, line.practitioner_id) if line.practitioner_id else None
    return DocumentLine(
        service_date=line.service_date,
        description=line.description,
        practitioner=practitioner.display_name if practitioner else "",
        registration_number=practitioner.registration_number if practitioner else "",
        amount=amount,
        tax=tax,
    )


def render_invoice_pdf(
    uow: BillingUnitOfWork,
    actor: Principal,
    invoice_id: uuid.UUID,
    renderer: DocumentRenderer,
    *,
    receipt: bool = False,
) -> tuple[str, bytes]:
    """The document's number and its PDF bytes."""
    document = invoice_document(uow, actor, invoice_id, receipt=receipt)
    return document.number, renderer.render(document)


def document_pdf_by_link(
    uow: BillingUnitOfWork, links: DocumentLinks, token: str, renderer: DocumentRenderer
) -> tuple[str, bytes]:
    """The invoice or credit note PDF a signed link opens, for whoever holds the link.

    A voided invoice still opens (printed as cancelled), and so do its credit notes.
    """
    linked = links.document(token, uow.clock.now())
    if linked.kind is DocumentKind.CREDIT_NOTE:
        note = uow.repo.get(CreditNote, linked.document_id)
        invoice = uow.repo.get(Invoice, note.invoice_id) if note is not None else None
        if note is None or invoice is None:
            raise NotFound("no document at this link")
        credit_note = _credit_note_document(uow, note, invoice)
        return credit_note.number, renderer.render_credit_note(credit_note)
    found = uow.repo.get(Invoice, linked.document_id)
    if found is None:
        raise NotFound("no document at this link")
    document = _document(uow, found, receipt=False)
    return document.number, renderer.render(document)


def render_credit_note_pdf(
    uow: BillingUnitOfWork, actor: Principal, credit_note_id: uuid.UUID, renderer: DocumentRenderer
) -> tuple[str, bytes]:
    """The credit note's number and its PDF bytes: staff, or the patient whose invoice it credits."""
    note, invoice = _credit_note(uow, actor, credit_note_id)
    document = _credit_note_document(uow, note, invoice)
    return document.number, renderer.render_credit_note(document)


def credit_note_document_link(
    uow: BillingUnitOfWork, actor: Principal, credit_note_id: uuid.UUID, links: DocumentLinks
) -> DocumentLink:
    """A fresh download link to a credit note's PDF, e.g. to send to the patient."""
    note, _ = _credit_note(uow, actor, credit_note_id)
    link = links.credit_note_link(note.id, uow.clock.now())
    if link is None:
        raise DocumentLinksDisabled("download links are not enabled on this billing service")
    audit(
        uow,
        actor.account_id,
        "credit_note",
        note.id,
        "document_link_created",
        expires_at=link.expires_at.isoformat(),
    )
    return link


def _credit_note(
    uow: BillingUnitOfWork, actor: Principal, credit_note_id: uuid.UUID
) -> tuple[CreditNote, Invoice]:
    note = uow.repo.get(CreditNote, credit_note_id)
    if note is None:
        raise NotFound("credit note not found")
    try:
        invoice = get_invoice(uow, actor, note.invoice_id)
    except NotFound:
        raise NotFound("credit note not found") from None
    return note, invoice


def invoice_document_link(
    uow: BillingUnitOfWork, actor: Principal, invoice_id: uuid.UUID, links: DocumentLinks
) -> DocumentLink:
    """A fresh download link to an issued invoice's PDF, e.g. to send again when the first one expired."""
    invoice = get_invoice(uow, actor, invoice_id)
    if invoice.status is InvoiceStatus.DRAFT:
        raise NotFound("only issued invoices have a document")
    link = links.invoice_link(invoice.id, uow.clock.now())
    if link is None:
        raise DocumentLinksDisabled("download links are not enabled on this billing service")
    audit(
        uow,
        actor.account_id,
        "invoice",
        invoice.id,
        "document_link_created",
        expires_at=link.expires_at.isoformat(),
    )
    return link


def _payments(uow: BillingUnitOfWork, invoice: Invoice, clinic: Clinic) -> list[DocumentPayment]:
    found = []
    for payment, amount in uow.repo.payments_for_invoice(invoice.id):
        found.append(
            DocumentPayment(local_date(payment.received_at, clinic.zone), str(payment.method), amount)
        )
    return sorted(found, key=lambda p: p.received_on)


def _claim_facts(uow: BillingUnitOfWork, invoice: Invoice) -> list[str]:
    if invoice.coverage_id is None:
        return []
    coverage = uow.repo.get(Coverage, invoice.coverage_id)
    if coverage is None:
        return []
    facts = [
        ("Claim number", coverage.claim_number),
        ("Date of injury", coverage.date_of_injury.isoformat() if coverage.date_of_injury else None),
        ("Employer", coverage.employer_name),
        ("Policy number", coverage.policy_number),
    ]
    return [f"{label}: {value}" for label, value in facts if value]
