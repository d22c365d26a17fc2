"""Credit notes as documents: the PDF of one, and a signed link to it for the patient."""

from __future__ import annotations

import uuid

from flask import Response

from billing.entrypoints.api.context import container
from billing.entrypoints.api.schemas.invoices import DocumentLinkSchema
from billing.service_layer import documents
from billing.service_layer.ports import DocumentLink
from clinic_shared.web.auth import current_principal
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint(
    "credit_notes", __name__, url_prefix="/credit-notes", description="Credit notes as PDF documents"
)


@blp.route("/<uuid:credit_note_id>/pdf", methods=["GET"])
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="The credit note as a PDF: the invoice it credits, the lines credited, tax and total",
)
@blp.alt_response(404, description="Unknown, or it credits another patient's invoice")
def credit_note_pdf(credit_note_id: uuid.UUID) -> Response:
    """A credit note's PDF: staff, or the patient whose invoice it credits."""
    c = container()
    with c.uow() as uow:
        number, pdf = documents.render_credit_note_pdf(uow, current_principal(), credit_note_id, c.documents)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{number}.pdf"'
    return response


@blp.route("/<uuid:credit_note_id>/document-link", methods=["POST"])
@blp.response(200, DocumentLinkSchema, description="A fresh signed link to the credit note's PDF")
@blp.alt_response(404, description="Unknown, or it credits another patient's invoice")
@blp.alt_response(503, description="Download links are not configured on this billing service")
def create_document_link(credit_note_id: uuid.UUID) -> DocumentLink:
    """Make a download link that opens the credit note's PDF without signing in; staff, or the patient."""
    c = container()
    with c.uow() as uow:
        link = documents.credit_note_document_link(uow, current_principal(), credit_note_id, c.links)
        uow.commit()
        return link
