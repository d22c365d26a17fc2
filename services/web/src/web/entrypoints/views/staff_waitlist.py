"""The clinic's waitlist for the front desk (issue 12): who waits for an earlier time, for which treatment,
with which practitioner (or any), between when, and the times held for them with their expiry, in the
clinic's time zone. Read-only: patients join, take or leave it themselves; an unclaimed hold is released
when its offer expires.

The role is checked here (``staff_required``) and again by scheduling, which shows staff their own clinic's
entries only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.i18n import gettext
from web.entrypoints.views.staff import clinic_for
from web.service_layer import staff_waitlist
from web.service_layer.staff_waitlist import DESK_ROLES

bp = Blueprint("staff_waitlist", __name__, url_prefix="/staff")


@bp.get("/waitlist")
@staff_required(*DESK_ROLES)
def index() -> Response | str:
    clinic_id, choices = clinic_for(request.args.get("clinic"))
    if clinic_id is None:
        return render_template("staff/choose_clinic.html", clinics=choices, target="staff_waitlist.index")
    now = datetime.now(UTC)
    waitlist = staff_waitlist.clinic_waitlist(apis(), signed_in(), clinic_id, now, unnamed=gettext("Patient"))
    return render_template(
        "staff/waitlist.html", waitlist=waitlist, now=now, choices=choices, clinic_id=clinic_id
    )
