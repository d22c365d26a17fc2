"""The Day view's week: seven day columns of the clinic's (or one practitioner's) appointments, with the same
blocks and actions as the day, closures and time off shaded. Navigated by week; each day opens its Day view.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Blueprint, get_flashed_messages, render_template, request, url_for
from werkzeug.wrappers import Response

from web.domain.day import parse_day
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.i18n import gettext
from web.entrypoints.views.staff import MOVE_ROLES, _day_args, _practitioner_shown, clinic_for
from web.service_layer import staff_practice, staff_week
from web.service_layer.staff_day import DESK_ROLES

bp = Blueprint("staff_week", __name__, url_prefix="/staff")


def _now() -> datetime:
    return datetime.now(UTC)


@bp.get("/week")
@staff_required(*DESK_ROLES)
def week() -> Response | str:
    clinic_id, choices = clinic_for(request.args.get("clinic"))
    if clinic_id is None:
        return render_template("staff/choose_clinic.html", clinics=choices, target="staff_week.week")
    asked = request.args.get("date")
    now = _now()
    page = staff_week.week_page(
        apis(),
        signed_in(),
        clinic_id,
        parse_day(asked),
        now,
        practitioner_id=_practitioner_shown(),
        show_cancelled=request.args.get("cancelled") == "shown",
        unnamed=gettext("Patient"),
    )
    monday = page.layout.monday
    fixed = {"date": monday.isoformat(), "clinic": clinic_id if choices else None}

    def week_url(**changes: Any) -> str:
        return url_for(".week", **_day_args(**(fixed | changes)))

    def day_url(day: str) -> str:
        return url_for("staff.day", **_day_args(**(fixed | {"date": day})))

    notices = cast(list[tuple[str, str]], get_flashed_messages(with_categories=True))
    refused = {c.split(":", 1)[1]: m for c, m in notices if c.startswith("refused:")}
    roles = set(signed_in().roles)
    return render_template(
        "staff/week.html",
        page=page,
        layout=page.layout,
        now=now,
        today=now.astimezone(page.zone).date(),
        bad_date=bool(asked) and parse_day(asked) is None,
        done=[m for c, m in notices if c == "done"],
        refused=refused,
        choices=choices,
        week_url=week_url,
        day_url=day_url,
        here=week_url(),
        can_move=bool(MOVE_ROLES & roles),
        can_open_patients=bool(staff_practice.HISTORY_ROLES & roles),
        may_record=staff_practice.may_record_suitability(signed_in()),
        patients_query={"clinic": clinic_id} if choices else {},
        show_practitioner=page.chosen_practitioner is None,
        short_below=7,  # narrower columns: a half-hour block runs its words on (time · patient · what)
        previous_week=(monday - timedelta(days=7)).isoformat(),
        next_week=(monday + timedelta(days=7)).isoformat(),
    )
