"""My appointments (being built)."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.entrypoints.context import patient_required

bp = Blueprint("appointments", __name__)


@bp.get("/appointments")
@patient_required
def index() -> str:
    return render_template("appointments/index.html")
