"""The clinic admin's practitioner pages: the list, adding one, and each one's working hours and time off.

Admins only (``staff_required("admin")``); scheduling checks the role and the clinic again on every call.
Working hours are read with the opening hours' rules (``domain.clinic_setup.read_week``); time off is whole
days of the clinic's calendar. Each form is accepted once; a mistake is a sentence beside its field.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, request, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.adapters.api import ApiError
from web.domain.clinic_setup import WEEKDAYS, HoursProblem, field_name, form_values, read_week
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import N_, Form, apply_api_error, parse_form
from web.entrypoints.i18n import format_long_day, gettext
from web.entrypoints.views.staff_admin import (
    ADMIN,
    _choose,
    _clinic,
    _day_name,
    _once,
    _read_form_date,
    _render,
    _response,
)
from web.service_layer import staff_admin_people as people

bp = Blueprint("staff_admin_practitioners", __name__, url_prefix="/staff/clinic/practitioners")

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
@staff_required(ADMIN)
def index() -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin_practitioners.index", choices)
    done = url_for(".index", **keep)

    def page(form: Form, status: int = 200) -> Any:
        return _render(
            "staff/admin/practitioners.html",
            clinic=settings,
            keep=keep,
            form=form,
            rows=people.practitioners(apis(), signed_in(), settings.id),
            saved=get_flashed_messages(category_filter=["done"]),
        ), status

    if request.method == "GET":
        return page(Form())

    def add() -> Response:
        form = parse_form(PractitionerForm(), request.form)
        if form.ok:
            try:
                people.add_practitioner(apis(), signed_in(), settings.id, **form.data)
            except ApiError as error:
                if error.status != 422:
                    raise
                apply_api_error(
                    form,
                    error,
                    {
                        "display_name": ("display_name", N_("The name must be 200 characters or fewer")),
                        "registration_number": (
                            "registration_number",
                            N_("The registration number must be 50 characters or fewer"),
                        ),
                    },
                    N_("We could not add this practitioner. Try again."),
                )
            else:
                flash(gettext("%(name)s is added.", name=form.data["display_name"]), "done")
                return redirect(done, 303)
        return _response(page(form, 422))

    return _once(add, done)


def _practitioner(clinic_id: str, practitioner_id: uuid.UUID) -> people.PractitionerRow:
    found = people.practitioner(apis(), signed_in(), clinic_id, str(practitioner_id))
    if found is None:
        abort(404)
    return found


# --- working hours ------------------------------------------------------------------------------------


@bp.route("/<uuid:practitioner_id>/working-hours", methods=["GET", "POST"])
@staff_required(ADMIN)
def working_hours(practitioner_id: uuid.UUID) -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin_practitioners.index", choices)
    who = _practitioner(settings.id, practitioner_id)
    done = url_for(".working_hours", practitioner_id=who.id, **keep)
    week = people.working_hours(apis(), signed_in(), settings.id, who.id)

    def page(form: Form, status: int = 200) -> Any:
        return _render(
            "staff/admin/working_hours.html",
            clinic=settings,
            keep=keep,
            practitioner=who,
            form=form,
            week=week,
            days=[(weekday, _day_name(weekday)) for weekday in WEEKDAYS],
            field_name=field_name,
            saved=get_flashed_messages(category_filter=["done"]),
        ), status

    if request.method == "GET":
        return page(Form(values=form_values(week)))

    def save() -> Response:
        values = {key: value.strip() for key, value in request.form.items() if key != "csrf_token"}
        form = Form(values=values)
        answer = read_week(values)
        for name, (problem, weekday) in answer.problems.items():
            day = _day_name(weekday) if weekday is not None else ""
            form.errors.setdefault(name, gettext(WORK_PROBLEMS[problem], day=day))
        if form.ok:
            try:
                people.set_working_hours(apis(), signed_in(), settings.id, who.id, answer.spans)
            except ApiError as error:
                if error.status != 422:
                    raise
                apply_api_error(form, error, {}, N_("We could not save these hours. Check each day's times."))
        if not form.ok:
            return _response(page(form, 422))
        flash(gettext("%(name)s's working hours are saved.", name=who.name), "done")
        return redirect(done, 303)

    return _once(save, done)


# --- time off -----------------------------------------------------------------------------------------


class TimeOffForm(Schema):
    starts_day = fields.String(load_default="")
    starts_month = fields.String(load_default="")
    starts_year = fields.String(load_default="")
    ends_day = fields.String(load_default="")
    ends_month = fields.String(load_default="")
    ends_year = fields.String(load_default="")
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=200, error=N_("The reason must be 200 characters or fewer")),
    )


@bp.route("/<uuid:practitioner_id>/time-off", methods=["GET", "POST"])
@staff_required(ADMIN)
def time_off(practitioner_id: uuid.UUID) -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin_practitioners.index", choices)
    who = _practitioner(settings.id, practitioner_id)
    done = url_for(".time_off", practitioner_id=who.id, **keep)

    def page(form: Form, wrong: dict[str, tuple[str, ...]] | None = None, status: int = 200) -> Any:
        return _render(
            "staff/admin/time_off.html",
            clinic=settings,
            keep=keep,
            practitioner=who,
            form=form,
            wrong_parts=wrong or {},
            rows=people.time_off(apis(), signed_in(), settings.id, who.id, settings.timezone),
            saved=get_flashed_messages(category_filter=["done"]),
        ), status

    if request.method == "GET":
        return page(Form())

    def add() -> Response:
        form = parse_form(TimeOffForm(), request.form)
        first, first_wrong = _read_form_date(form, "starts")
        last, last_wrong = _read_form_date(form, "ends")
        if first and last and last < first:
            last_wrong = ("day", "month", "year")
            form.error("ends_day", N_("The last day off must be the same as or after the first"))
        if form.ok and first and last:
            try:
                people.add_time_off(
                    apis(),
                    signed_in(),
                    settings.id,
                    who.id,
                    first_day=first,
                    last_day=last,
                    zone=settings.timezone,
                    reason=str(form.data.get("reason") or ""),
                )
            except ApiError as error:
                if error.status != 422:
                    raise
                apply_api_error(
                    form,
                    error,
                    {
                        "ends_at": (
                            "ends_day",
                            N_("The last day off must be the same as or after the first"),
                        ),
                        "reason": ("reason", N_("The reason must be 200 characters or fewer")),
                    },
                    N_("We could not add this time off. Check the dates."),
                )
            else:
                if first == last:
                    notice = gettext("%(name)s is off on %(day)s.", name=who.name, day=format_long_day(first))
                else:
                    notice = gettext(
                        "%(name)s is off from %(first)s to %(last)s.",
                        name=who.name,
                        first=format_long_day(first),
                        last=format_long_day(last),
                    )
                flash(notice, "done")
                return redirect(done, 303)
        return _response(page(form, {"starts": first_wrong, "ends": last_wrong}, 422))

    return _once(add, done)


@bp.post("/<uuid:practitioner_id>/time-off/<uuid:time_off_id>/remove")
@staff_required(ADMIN)
def remove_time_off(practitioner_id: uuid.UUID, time_off_id: uuid.UUID) -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin_practitioners.index", choices)
    done = url_for(".time_off", practitioner_id=practitioner_id, **keep)

    def remove() -> Response:
        try:
            people.remove_time_off(apis(), signed_in(), settings.id, str(practitioner_id), str(time_off_id))
        except ApiError as error:
            if error.status != 404:
                raise  # already removed (by someone else, or a repeat): the list says how it is now
        flash(gettext("The time off is removed."), "done")
        return redirect(done, 303)

    return _once(remove, done)
