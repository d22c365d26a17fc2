"""Invoice and official-receipt documents: the facts gathered for rendering, and the renderer port.

The document is assembled here from billing's own records and its copies of scheduling's clinic,
practitioner, treatment and patient; an adapter turns it into a PDF. An issued invoice's PDF can also be
opened without signing in through a signed, expiring link (the DocumentLinks port).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from billing.domain.errors import NotFound, RuleViolation
from billing.domain.invoicing import Coverage, Invoice, InvoiceStatus
from billing.domain.model import Clinic, Patient, Practitioner, local_date
from billing.domain.money import Money
from billing.service_layer.invoicing import get_invoice
from billing.service_layer.ports import DocumentLink, DocumentLinks, DocumentLinksDisabled
from billing.service_layer.services import audit
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


class DocumentRenderer(Protocol):
    """Turns a document into the bytes of a PDF."""

    def render(self, document: InvoiceDocument) -> bytes: ...


_PAYERS = {"worksafebc": "WorkSafeBC", "icbc": "ICBC", "extended_health": "Extended health plan"}


def invoice_document(
    uow: BillingUnitOfWork, actor: Principal, invoice_id: uuid.UUID, *, receipt: bool = False
) -> InvoiceDocument:
    """The issued invoice (or, for ``receipt``, the official receipt of what was paid on it)."""
    return _document(uow, get_invoice(uow, actor, invoice_id), receipt=receipt)


def _document(uow: BillingUnitOfWork, invoice: Invoice, *, receipt: bool) -> InvoiceDocument:
    if invoice.status is InvoiceStatus.DRAFT or invoice.number is None or invoice.issued_at is None:
        raise NotFound("only issued invoices have a document")
    clinic = uow.repo.get(Clinic, invoice.clinic_id)
    if clinic is None:
        raise RuleViolation("the clinic's details have not reached billing yet", field="clinic_id")
    payments = _payments(uow, invoice, clinic)
    if receipt and not payments:
        raise RuleViolation("nothing has been paid on this invoice yet", field="invoice_id")
    patient = uow.repo.get(Patient, invoice.patient_id)
    patient_name = f"{patient.first_name} {patient.last_name}" if patient else f"Patient {invoice.patient_id}"
    lines = []
    for line in invoice.lines:
        practitioner = uow.repo.get(Practitioner, line.practitioner_id) if line.practitioner_id else None
        lines.append(
            DocumentLine(
                service_date=line.service_date,
                description=line.description,
                practitioner=practitioner.display_name if practitioner else "",
                registration_number=practitioner.registration_number if practitioner else "",
                amount=line.amount,
                tax=line.tax,
            )
        )
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
        lines=lines,
        subtotal=invoice.subtotal,
        tax=invoice.tax,
        credited=invoice.credited,
        total=invoice.total,
        paid=invoice.paid,
        balance=invoice.balance,
        payments=payments,
        claim_facts=_claim_facts(uow, invoice),
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


def invoice_pdf_by_link(
    uow: BillingUnitOfWork, links: DocumentLinks, token: str, renderer: DocumentRenderer
) -> tuple[str, bytes]:
    """The invoice PDF a signed link opens, for whoever holds the link; a voided invoice still opens."""
    invoice_id = links.invoice_id(token, uow.clock.now())
    invoice = uow.repo.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("no document at this link")
    document = _document(uow, invoice, receipt=False)
    return document.number, renderer.render(document)


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
    uow.commit()
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
