"""Invoices: billing staff draft them from billable charges, review, issue, and correct by credit notes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import Response
from flask_smorest.pagination import PaginationParameters

from billing.domain.credit_notes import CreditNote
from billing.domain.invoicing import Invoice
from billing.entrypoints.api.context import BILLING_STAFF, container
from billing.entrypoints.api.idempotency import run_once
from billing.entrypoints.api.schemas.common import IdempotencyHeaders
from billing.entrypoints.api.schemas.invoices import (
    CreditNoteRequest,
    CreditNoteSchema,
    DocumentLinkSchema,
    DraftInvoiceRequest,
    InvoiceQuery,
    InvoiceSchema,
    SplitInvoicesRequest,
)
from billing.service_layer import credit_notes, documents, invoices
from billing.service_layer.ports import DocumentLink
from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint("invoices", __name__, url_prefix="/invoices", description="Invoices and credit notes")


@blp.route("", methods=["POST"])
@blp.arguments(DraftInvoiceRequest())
@blp.response(201, InvoiceSchema, description="A draft gathering the patient's billable charges")
@blp.alt_response(422, description="No billable charges, or an invalid field")
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
@require_roles(*BILLING_STAFF)
def draft_invoice(body: dict[str, Any]) -> Invoice:
    with container().uow() as uow:
        invoice = invoices.draft_invoice(uow, current_principal(), invoices.DraftInvoice(**body))
        uow.commit()
        return invoice


@blp.route("/split", methods=["POST"])
@blp.arguments(SplitInvoicesRequest())
@blp.response(201, InvoiceSchema(many=True), description="The payer's draft, then the patient's")
@blp.alt_response(422, description="No billable charges, or an invalid field")
@blp.alt_response(404, description="No such coverage for this patient and clinic (field `coverage_id`)")
@require_roles(*BILLING_STAFF)
def draft_split_invoices(body: dict[str, Any]) -> list[Invoice]:
    with container().uow() as uow:
        drafts = invoices.draft_split_invoices(uow, current_principal(), invoices.DraftSplitInvoices(**body))
        uow.commit()
        return drafts


@blp.route("", methods=["GET"])
@blp.arguments(InvoiceQuery(), location="query")
@blp.response(
    200,
    InvoiceSchema(many=True),
    description="Staff: their clinic's (all when organisation-wide); a patient: their issued ones",
)
@blp.paginate()
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
def list_invoices(query: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[Invoice]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = invoices.list_invoices(
            uow, current_principal(), page_of(pagination_parameters), invoices.InvoiceFilter(**query)
        )
        return items


@blp.route("/<uuid:invoice_id>", methods=["GET"])
@blp.response(200, InvoiceSchema)
def get_invoice(invoice_id: uuid.UUID) -> Invoice:
    with container().uow() as uow:
        return invoices.get_invoice(uow, current_principal(), invoice_id)


@blp.route("/<uuid:invoice_id>", methods=["DELETE"])
@blp.response(204, description="The draft is gone; its charges are billable again")
@blp.alt_response(409, description="The invoice is issued (correct it by a credit note)")
@blp.alt_response(422, description="A split-payer or package draft: issue it, then credit it")
@require_roles(*BILLING_STAFF)
def discard_draft(invoice_id: uuid.UUID) -> None:
    with container().uow() as uow:
        invoices.discard_draft(uow, current_principal(), invoice_id)
        uow.commit()


@blp.route("/<uuid:invoice_id>/pdf", methods=["GET"])
@blp.response(200, content_type="application/pdf", description="The issued invoice as a PDF")
@blp.alt_response(404, description="Unknown, not yours, or still a draft")
def invoice_pdf(invoice_id: uuid.UUID) -> Response:
    with container().uow() as uow:
        number, pdf = documents.render_invoice_pdf(
            uow, current_principal(), invoice_id, container().documents
        )
    return _pdf(pdf, number)


@blp.route("/<uuid:invoice_id>/receipt", methods=["GET"])
@blp.response(200, content_type="application/pdf", description="Official receipt of what was paid")
@blp.alt_response(422, description="Nothing has been paid yet")
def receipt_pdf(invoice_id: uuid.UUID) -> Response:
    with container().uow() as uow:
        number, pdf = documents.render_invoice_pdf(
            uow, current_principal(), invoice_id, container().documents, receipt=True
        )
    return _pdf(pdf, f"{number}-receipt")


def _pdf(content: bytes, name: str) -> Response:
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


@blp.route("/<uuid:invoice_id>/document-link", methods=["POST"])
@blp.response(200, DocumentLinkSchema, description="A fresh signed link to the invoice's PDF")
@blp.alt_response(404, description="Unknown, not yours, or still a draft")
@blp.alt_response(503, description="Download links are not configured on this billing service")
def create_document_link(invoice_id: uuid.UUID) -> DocumentLink:
    """Make a new download link (e.g. to send again after the first expired); staff, or the patient."""
    c = container()
    with c.uow() as uow:
        link = documents.invoice_document_link(uow, current_principal(), invoice_id, c.links)
        uow.commit()
        return link


@blp.route("/<uuid:invoice_id>/issue", methods=["POST"])
@blp.response(200, InvoiceSchema, description="Issued with the next gapless number")
@blp.alt_response(409, description="The invoice is not a draft")
@require_roles(*BILLING_STAFF)
def issue_invoice(invoice_id: uuid.UUID) -> Invoice:
    with container().uow() as uow:
        invoice = invoices.issue_invoice(uow, current_principal(), invoice_id, container().links)
        uow.commit()
        return invoice


@blp.route("/<uuid:invoice_id>/credit-notes", methods=["GET"])
@blp.response(200, CreditNoteSchema(many=True), description="Oldest first")
@blp.alt_response(404, description="Unknown, not yours, or (for a patient) still a draft")
def list_credit_notes(invoice_id: uuid.UUID) -> Sequence[CreditNote]:
    """The credit notes correcting an invoice: staff, or the patient the issued invoice is for."""
    with container().uow() as uow:
        return credit_notes.list_credit_notes(uow, current_principal(), invoice_id)


@blp.route("/<uuid:invoice_id>/credit-notes", methods=["POST"])
@blp.arguments(IdempotencyHeaders(), location="headers")
@blp.arguments(CreditNoteRequest())
@blp.response(201, CreditNoteSchema, description="A replay returns the first response")
@blp.alt_response(422, description="Invalid amount, or the Idempotency-Key was used for another request")
@require_roles(*BILLING_STAFF)
def issue_credit_note(headers: dict[str, Any], body: dict[str, Any], invoice_id: uuid.UUID) -> Response:
    cmd = credit_notes.IssueCreditNote(invoice_id=invoice_id, **body)
    return run_once(
        headers,
        lambda uow: credit_notes.issue_credit_note(uow, current_principal(), cmd),
        CreditNoteSchema(),
    )
