"""Invoices and receipts: the patient's invoices with what is still owed, their PDFs, and any credit."""

from __future__ import annotations

import uuid
from datetime import date

from babel.dates import format_date
from flask import Blueprint, Response, abort, render_template

from web.entrypoints import i18n
from web.entrypoints.context import apis, patient_required, signed_in
from web.service_layer import invoices
from web.service_layer.ports import ApiError

bp = Blueprint("invoices", __name__)


@bp.get("/invoices")
@patient_required
def index() -> str:
    page = invoices.invoices_page(apis(), signed_in())
    return render_template("invoices/index.html", page=page, dated=_dated)


def _dated(day: date) -> str:
    """An invoice's date the reader's way, with its year: 'Dec 7, 2026', '7 déc. 2026'."""
    return format_date(day, "medium", locale=i18n.locale())


@bp.get("/invoices/<uuid:invoice_id>/pdf")
@patient_required
def pdf(invoice_id: uuid.UUID) -> Response:
    return _download(invoice_id, receipt=False)


@bp.get("/invoices/<uuid:invoice_id>/receipt")
@patient_required
def receipt(invoice_id: uuid.UUID) -> Response:
    return _download(invoice_id, receipt=True)


def _download(invoice_id: uuid.UUID, *, receipt: bool) -> Response:
    try:
        document = invoices.invoice_document(apis(), signed_in(), str(invoice_id), receipt=receipt)
    except ApiError as error:
        if error.status in (404, 410, 422):  # not theirs, not issued, or (a receipt) nothing paid yet
            abort(404)
        raise
    response = Response(document.content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response.headers["Content-Length"] = str(len(document.content))
    return response
