"""The clinic admin's practitioner pages: the list, adding one, and each one's working hours and time off.

Admins only (``staff_required("admin")``); scheduling checks the role and the clinic again on every call.
Working hours are read with the opening hours' rules (``domain.clinic_setup.read_week``); time off is whole
days of the clinic's calendar. Each form is accepted once; a mistake is a sentence beside its field.
"""

from __future__ import annotations

import uuid
from datetime import date

from flask import Blueprint, abort, request
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.domain.clinic_setup import HoursProblem, form_values
from web.entrypoints.context import apis, signed_in
from web.entrypoints.forms import N_, Form, parse_form
from web.entrypoints.i18n import format_long_day, gettext
from web.entrypoints.views.staff_admin_common import (
    REASON_TOO_LONG,
    ApiRefusal,
    ClinicPage,
    DayRangeForm,
    add_day_range,
    admin_page,
    once,
    read_week_form,
    remove_once,
    saved_and_back,
    week_context,
)
from web.service_layer import staff_admin_people as people

bp = Blueprint("staff_admin_practitioners", __name__, url_prefix="/staff/clinic/practitioners")
LIST = "staff_admin_practitioners.index"

WORK_PROBLEMS = {
    HoursProblem.OPENS_MISSING: N_("Enter the time they start on %(day)s, or tick “Day off”"),
    HoursProblem.CLOSES_MISSING: N_("Enter the time they finish on %(day)s, or tick “Day off”"),
    HoursProblem.OPENS_NOT_A_TIME: N_("Enter the start time on %(day)s like 09:00"),
    HoursProblem.CLOSES_NOT_A_TIME: N_("Enter the finish time on %(day)s like 17:30"),
    HoursProblem.CLOSES_BEFORE_OPENS: N_("The finish time on %(day)s must be after the start time"),
    HoursProblem.ALL_CLOSED: N_("Give them at least one working day. For a holiday, add time off instead."),
}


class PractitionerForm(Schema):
    display_name = fields.String(
        required=True,
        validate=validate.Length(max=200, error=N_("The name must be 200 characters or fewer")),
        error_messages={"required": N_("Enter the practitioner's name")},
    )
    registration_number = fields.String(
        required=True,
        validate=validate.Length(max=50, error=N_("The registration number must be 50 characters or fewer")),
        error_messages={"required": N_("Enter the practitioner's registration number")},
    )
    ims_qualified = fields.Boolean(load_default=False, truthy={"true", "on"}, falsy={"false", ""})


@bp.route("", methods=["GET", "POST"])
@admin_page()
def index(at: ClinicPage) -> Response:
    done = at.url(".index")

    def page(form: Form, status: int = 200) -> Response:
        rows = people.practitioners(apis(), signed_in(), at.id)
        return at.render("staff/admin/practitioners.html", status, form=form, rows=rows)

    if request.method == "GET":
        return page(Form())

    def add() -> Response:
        form = parse_form(PractitionerForm(), request.form)
        if form.ok:
            with ApiRefusal(
                form,
                {
                    "display_name": ("display_name", N_("The name must be 200 characters or fewer")),
                    "registration_number": (
                        "registration_number",
                        N_("The registration number must be 50 characters or fewer"),
                    ),
                },
                N_("We could not add this practitioner. Try again."),
            ):
                people.add_practitioner(apis(), signed_in(), at.id, **form.data)
        if not form.ok:
            return page(form, 422)
        return saved_and_back(gettext("%(name)s is added.", name=form.data["display_name"]), done)

    return once(add, done)


def _practitioner(clinic_id: str, practitioner_id: uuid.UUID) -> people.PractitionerRow:
    found = people.practitioner(apis(), signed_in(), clinic_id, str(practitioner_id))
    if found is None:
        abort(404)
    return found


# --- working hours ------------------------------------------------------------------------------------


@bp.route("/<uuid:practitioner_id>/working-hours", methods=["GET", "POST"])
@admin_page(LIST)
def working_hours(at: ClinicPage, practitioner_id: uuid.UUID) -> Response:
    who = _practitioner(at.id, practitioner_id)
    done = at.url(".working_hours", practitioner_id=who.id)
    week = people.working_hours(apis(), signed_in(), at.id, who.id)

    def page(form: Form, status: int = 200) -> Response:
        return at.render(
            "staff/admin/working_hours.html", status, practitioner=who, form=form, week=week, **week_context()
        )

    if request.method == "GET":
        return page(Form(values=form_values(week)))

    def save() -> Response:
        form, answer = read_week_form(WORK_PROBLEMS)
        if form.ok:
            with ApiRefusal(form, {}, N_("We could not save these hours. Check each day's times.")):
                people.set_working_hours(apis(), signed_in(), at.id, who.id, answer.spans)
        if not form.ok:
            return page(form, 422)
        return saved_and_back(gettext("%(name)s's working hours are saved.", name=who.name), done)

    return once(save, done)


# --- time off -----------------------------------------------------------------------------------------


class TimeOffForm(DayRangeForm):
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=200, error=REASON_TOO_LONG),
    )


@bp.route("/<uuid:practitioner_id>/time-off", methods=["GET", "POST"])
@admin_page(LIST)
def time_off(at: ClinicPage, practitioner_id: uuid.UUID) -> Response:
    zone = at.settings.timezone
    who = _practitioner(at.id, practitioner_id)
    done = at.url(".time_off", practitioner_id=who.id)

    def page(form: Form, wrong: dict[str, tuple[str, ...]] | None = None, status: int = 200) -> Response:
        rows = people.time_off(apis(), signed_in(), at.id, who.id, zone)
        return at.render(
            "staff/admin/time_off.html",
            status,
            practitioner=who,
            form=form,
            wrong_parts=wrong or {},
            rows=rows,
        )

    if request.method == "GET":
        return page(Form())

    def off(first: date, last: date) -> str:
        if first == last:
            return gettext("%(name)s is off on %(day)s.", name=who.name, day=format_long_day(first))
        return gettext(
            "%(name)s is off from %(first)s to %(last)s.",
            name=who.name,
            first=format_long_day(first),
            last=format_long_day(last),
        )

    def add() -> Response:
        return add_day_range(
            TimeOffForm(),
            backwards=N_("The last day off must be the same as or after the first"),
            api_last_day="ends_at",
            fallback=N_("We could not add this time off. Check the dates."),
            add=lambda first, last, reason: people.add_time_off(
                apis(), signed_in(), at.id, who.id, first_day=first, last_day=last, zone=zone, reason=reason
            ),
            notice=off,
            page=page,
            done=done,
        )

    return once(add, done)


@bp.post("/<uuid:practitioner_id>/time-off/<uuid:time_off_id>/remove")
@admin_page(LIST)
def remove_time_off(at: ClinicPage, practitioner_id: uuid.UUID, time_off_id: uuid.UUID) -> Response:
    return remove_once(
        lambda: people.remove_time_off(apis(), signed_in(), at.id, str(practitioner_id), str(time_off_id)),
        gettext("The time off is removed."),
        at.url(".time_off", practitioner_id=practitioner_id),
    )
