"""Book an appointment (being built)."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.entrypoints.context import patient_required

bp = Blueprint("booking", __name__)


@bp.get("/book")
@patient_required
def start() -> str:
    return render_template("booking/start.html")
