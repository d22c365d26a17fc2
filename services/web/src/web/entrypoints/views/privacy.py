"""Your data: what the clinic keeps and why, who looked at the record, a download of everything kept, and
erasing the account. Views only read the request and pick the page; the rest is in ``service_layer``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response as BaseResponse

from web.domain.privacy import Access
from web.entrypoints import i18n, signin
from web.entrypoints.context import apis, patient_required, signed_in
from web.entrypoints.forms import N_, Form, parse_form
from web.service_layer import privacy

bp = Blueprint("privacy", __name__)

# The services in words, for "... could not be reached" (the patient knows no service names).
SERVICE_NAMES = {
    "scheduling": N_("Your appointment record"),
    "billing": N_("Billing"),
    "notifications": N_("Your messages record"),
}


class EraseForm(Schema):
    confirm = fields.Boolean(
        required=True,
        validate=validate.Equal(True, error=N_("Tick the box to confirm you want your account erased")),
        error_messages={"required": N_("Tick the box to confirm you want your account erased")},
    )


@bp.get("/your-data")
@patient_required
def index() -> str:
    return _page()


def _page(failed: str | None = None) -> str:
    data = privacy.your_data(apis(), signed_in())
    return render_template(
        "privacy/index.html",
        data=data,
        failed=SERVICE_NAMES.get(failed or "") if failed else None,
        dated=_dated,
    )


def _dated(access: Access) -> str:
    """'Dec 7, 2026, 10:00 a.m. PST': the date with its year and the time, in the clinic's zone."""
    local = access.at.astimezone(ZoneInfo(access.zone))
    return f"{format_date(local, 'medium', locale=i18n.locale())}, {i18n.format_clock(local, access.zone)}"


@bp.get("/your-data/download")
@patient_required
def download() -> Response | tuple[str, int]:
    today = datetime.now(ZoneInfo(privacy.FALLBACK_ZONE)).date()
    try:
        document = privacy.download(apis(), signed_in(), today)
    except privacy.ExportFailed as failure:
        return _page(failed=failure.service), 503
    response = Response(document.content, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response.headers["Content-Length"] = str(len(document.content))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/your-data/erase", methods=["GET", "POST"])
@patient_required
def erase() -> BaseResponse | str | tuple[str, int]:
    if request.method == "GET":
        return render_template("privacy/erase.html", form=Form(), refused=None)
    form = parse_form(EraseForm(), request.form)
    if not form.ok:
        return render_template("privacy/erase.html", form=form, refused=None), 400
    try:
        privacy.erase(apis(), signed_in())
    except privacy.EraseRefused as refused:
        return render_template("privacy/erase.html", form=Form(), refused=refused.reason), 422
    # Scheduling closed the account and revoked its sign-ins; forget this session here too.
    signin.forget()
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    return redirect(url_for("privacy.erased"), 303)


@bp.get("/account-erased")
def erased() -> str:
    return render_template("privacy/erased.html")
