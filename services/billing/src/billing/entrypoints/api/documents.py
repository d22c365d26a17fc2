"""Invoices and credit notes opened by signed, expiring links (sent to patients), without signing in.

The link's token is a credential: responses are neither cached nor sent on as a referrer, and the token is
taken out of the request path before the access log records it (``SECRET_PATH_PREFIXES``).
"""

from __future__ import annotations

from flask import Response

from billing.entrypoints.api.context import container
from billing.service_layer import documents
from clinic_shared.web.auth import public
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint(
    "documents",
    __name__,
    url_prefix="/documents",
    description="Invoice and credit note PDFs opened by signed, expiring links; no sign-in",
)

# Paths whose next segment is a credential, kept out of the access log (clinic_shared RedactPathSecrets).
SECRET_PATH_PREFIXES = ("/documents/",)


@blp.after_request
def _keep_private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blp.route("/<token>", methods=["GET"])
@blp.doc(
    security=[],
    summary="Open an invoice's or a credit note's PDF by its signed link",
    description='The token comes from the link in the "invoice issued" email (the event\'s document_url), '
    "from POST /invoices/{invoice_id}/document-link or from POST "
    "/credit-notes/{credit_note_id}/document-link. A voided invoice still opens (printed as cancelled).",
)
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="The issued invoice or the credit note as a PDF",
)
@blp.alt_response(404, description="Not a link we made, altered, or the document no longer exists")
@blp.alt_response(410, description="The link has expired; the clinic can send a new one")
@public
def document_by_link(token: str) -> Response:
    c = container()
    with c.uow() as uow:
        number, pdf = documents.document_pdf_by_link(uow, c.links, token, c.documents)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{number}.pdf"'
    return response
