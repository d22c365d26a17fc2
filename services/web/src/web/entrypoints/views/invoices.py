"""Invoices and receipts (being built)."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.entrypoints.context import patient_required

bp = Blueprint("invoices", __name__)


@bp.get("/invoices")
@patient_required
def index() -> str:
    return render_template("invoices/index.html")
