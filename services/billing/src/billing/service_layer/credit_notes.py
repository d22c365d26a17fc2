"""Credit notes: an issued invoice is corrected or voided by a credit note (full or partial), never edited."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from billing.domain.credit_notes import CreditNote, credit_note_number
from billing.domain.errors import NotFound, RuleViolation
from billing.domain.invoicing import Invoice
from billing.domain.model import local_date
from billing.domain.money import Money
from billing.service_layer.audit import audit
from billing.service_layer.invoices import _clinic, get_invoice
from billing.service_layer.unit_of_work import BillingUnitOfWork
from clinic_shared.tokens import Principal

CREDIT_NOTE_SERIES = "CN"


def list_credit_notes(
    uow: BillingUnitOfWork, actor: Principal, invoice_id: uuid.UUID
) -> Sequence[CreditNote]:
    """An invoice's credit notes, oldest first: staff, or the patient the (issued) invoice is for."""
    invoice = get_invoice(uow, actor, invoice_id)
    return uow.repo.credit_notes_for(invoice.id)


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
