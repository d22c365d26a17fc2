"""The first page: the sign-in form for visitors, the patient's start page once signed in."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from web.entrypoints.context import credentials

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> Response | str:
    signed_in = credentials()
    if signed_in is None:
        return redirect(
            url_for("account.login", ended=1) if g.get("session_ended") else url_for("account.login")
        )
    if signed_in.is_staff:
        return redirect(url_for("staff.index"))
    return render_template("home/index.html")
