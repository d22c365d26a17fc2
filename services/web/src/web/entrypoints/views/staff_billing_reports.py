"""The billing clerk's reports page (aging, payments by day and method, revenue) and its CSV downloads.

Routes of the billing blueprint (``staff_billing.bp``); the CSV files come through the web front, since the
browser never holds an API token.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Response, abort, render_template, request

from web.domain.day import parse_day
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import N_, Form
from web.entrypoints.views.staff_billing import BILLING_ROLES, _clinic, bp
from web.service_layer import staff_billing_reports
from web.service_layer.staff_billing_reports import REPORTS


def _dates(form: Form) -> tuple[date | None, date, date]:
    """The aging day and the period asked for (default: today, and this month so far), each checked."""
    today = datetime.now(UTC).date()
    found: dict[str, date | None] = {}
    for name in ("as_of", "from", "to"):
        text = str(form.values.get(name) or "").strip()
        found[name] = parse_day(text) if text else None
        if text and found[name] is None:
            form.error(name, N_("Enter a date like 2026-12-01"))
    first = found["from"] or today.replace(day=1)
    last = found["to"] or today
    if last < first:
        form.error("to", N_("The last day must be the same as or after the first day"))
        first, last = today.replace(day=1), today
    return found["as_of"], first, last


@bp.get("/reports")
@staff_required(*BILLING_ROLES)
def reports() -> tuple[str, int]:
    clinic_id, choices = _clinic(request.args.get("clinic"))
    if clinic_id is None:
        return render_template(
            "staff/choose_clinic.html", clinics=choices, target="staff_billing.reports"
        ), 200
    form = Form(values=request.args.to_dict())
    as_of, first, last = _dates(form)
    if form.ok:  # show the period the reports cover, defaults included
        form.values |= {"from": first.isoformat(), "to": last.isoformat()}
    page = staff_billing_reports.reports_page(
        apis(), signed_in(), clinic_id, as_of=as_of if form.ok else None, first=first, last=last
    )
    query = {"clinic": clinic_id if choices else None, "as_of": as_of, "from": first, "to": last}
    csv_args = {key: str(value) for key, value in query.items() if value}
    return (
        render_template(
            "staff/billing/reports.html", page=page, form=form, csv_args=csv_args, first=first, last=last
        ),
        200 if form.ok else 422,
    )


@bp.get("/reports/<kind>.csv")
@staff_required(*BILLING_ROLES)
def report_csv(kind: str) -> Response:
    if kind not in REPORTS:
        abort(404)
    clinic_id, _ = _clinic(request.args.get("clinic"))
    if clinic_id is None:
        abort(404)
    form = Form(values=request.args.to_dict())
    as_of, first, last = _dates(form)
    if not form.ok:
        abort(404)
    content = staff_billing_reports.report_csv(
        apis(), signed_in(), kind, clinic_id, as_of=as_of, first=first, last=last
    )
    response = Response(content, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{kind}-{first}-{last}.csv"'
    return response
