"""Documents opened by signed, expiring links (sent to patients by email), without signing in.

The link's token is a credential: responses are neither cached nor sent on as a referrer, and the token is
taken out of the request path before the access log records it (``RedactDocumentTokens``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Response
from flask_smorest import Blueprint

from billing.entrypoints.api.context import container
from billing.service_layer import documents
from clinic_shared.web.auth import public

blp = Blueprint(
    "documents",
    __name__,
    url_prefix="/documents",
    description="Invoice PDFs opened by signed, expiring links; no sign-in",
)

_TOKEN_IN_PATH = re.compile(r"/documents/[^/?#]+")
REDACTED_PATH = "/documents/redacted"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@blp.after_request
def _keep_private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blp.route("/<token>", methods=["GET"])
@blp.doc(
    security=[],
    summary="Open an invoice's PDF by its signed link",
    description='The token comes from the link in the "invoice issued" email (the event\'s document_url) '
    "or from POST /invoices/{invoice_id}/document-link. A voided invoice still opens (printed as cancelled).",
)
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="The issued invoice as a PDF",
)
@blp.alt_response(404, description="Not a link we made, altered, or the invoice no longer exists")
@blp.alt_response(410, description="The link has expired; the clinic can send a new one")
@public
def invoice_by_link(token: str) -> Response:
    c = container()
    with c.uow() as uow:
        number, pdf = documents.invoice_pdf_by_link(uow, c.links, token, c.documents)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{number}.pdf"'
    return response


class RedactDocumentTokens:
    """WSGI middleware: once the app has answered, replace a link's token in the request's path.

    Gunicorn's access log reads the path from the WSGI environ after the response is sent, so a working
    link would otherwise be written to the logs.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self._app(environ, start_response)
        finally:
            for key in ("PATH_INFO", "RAW_URI", "REQUEST_URI"):
                value = environ.get(key)
                if isinstance(value, str):
                    environ[key] = _TOKEN_IN_PATH.sub(REDACTED_PATH, value)
