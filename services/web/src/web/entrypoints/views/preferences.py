"""Preferences (being built)."""

from __future__ import annotations

from flask import Blueprint, render_template

from web.entrypoints.context import patient_required

bp = Blueprint("preferences", __name__)


@bp.get("/preferences")
@patient_required
def index() -> str:
    return render_template("preferences/index.html")
