"""The clinic admin's set-up pages: opening hours, prices, closures and the online booking policy.

Admins only (``staff_required("admin")``); scheduling and billing check the role and the clinic again on
every call. A clinic's admin sets up their own clinic; an organisation-wide admin picks one (``?clinic=``).
Each form is accepted once (form tokens); a mistake is a sentence beside its field, never the API's words.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.adapters.api import ApiError
from web.domain.clinic_setup import (
    MAX_HORIZON_DAYS,
    MAX_NOTICE_MINUTES,
    SLOT_STEPS,
    WEEKDAYS,
    HoursProblem,
    MoneyProblem,
    field_name,
    form_values,
    may_take_effect,
    parse_cents,
    read_week,
)
from web.domain.waitlist import read_date
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, apply_api_error, parse_form, submit_once
from web.entrypoints.i18n import format_long_day, format_money, gettext, locale
from web.service_layer import staff_admin, staff_day

bp = Blueprint("staff_admin", __name__, url_prefix="/staff/clinic")

ADMIN = "admin"
HOURS_PROBLEMS = {
    HoursProblem.OPENS_MISSING: N_("Enter the time the clinic opens on %(day)s, or tick “Closed”"),
    HoursProblem.CLOSES_MISSING: N_("Enter the time the clinic closes on %(day)s, or tick “Closed”"),
    HoursProblem.OPENS_NOT_A_TIME: N_("Enter the opening time on %(day)s like 09:00"),
    HoursProblem.CLOSES_NOT_A_TIME: N_("Enter the closing time on %(day)s like 17:30"),
    HoursProblem.CLOSES_BEFORE_OPENS: N_("The closing time on %(day)s must be after the opening time"),
    HoursProblem.ALL_CLOSED: N_(
        "Open the clinic on at least one day. To close it for a holiday, add a closure instead."
    ),
}
MONEY_PROBLEMS = {
    MoneyProblem.MISSING: N_("Enter the new price"),
    MoneyProblem.NOT_MONEY: N_("Enter the price as an amount of money, like 95.00"),
    MoneyProblem.TOO_PRECISE: N_("Enter the price in dollars and cents, like 95.50"),
    MoneyProblem.TOO_LARGE: N_("Enter a price of 1,000,000.00 or less"),
}
DATE_PROBLEMS = {
    "incomplete": N_("The date must include a day, a month and a year"),
    "not_a_date": N_("The date must be a real date, like 27 3 2026"),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _day_name(weekday: int) -> str:
    return str(locale().days["format"]["wide"][weekday])


def _clinic() -> tuple[staff_admin.ClinicSettings | None, list[staff_day.ClinicChoice], dict[str, Any]]:
    """The clinic set up here: the admin's own, or the one an organisation-wide admin picked."""
    signed = signed_in()
    if signed.clinic_id:
        return staff_admin.clinic(apis(), signed, signed.clinic_id), [], {}
    choices = staff_day.clinics(apis(), signed)
    chosen = request.values.get("clinic")
    if not any(c.id == chosen for c in choices):
        chosen = choices[0].id if len(choices) == 1 else None
    if chosen is None:
        return None, choices, {}
    return staff_admin.clinic(apis(), signed, chosen), choices, {"clinic": chosen}


def _render(template: str, **context: Any) -> str:
    """A set-up page; "Clinic" stays the current area of the navigation on every one of them."""
    return render_template(template, current_area="staff_admin.index", **context)


def _choose(endpoint: str, choices: list[staff_day.ClinicChoice]) -> str:
    return render_template("staff/choose_clinic.html", clinics=choices, target=endpoint)


def _once(action: Callable[[], Response], done: str) -> Response:
    return submit_once(request.form.get(FORM_TOKEN_FIELD), action, already_done=done)


@bp.get("")
@staff_required(ADMIN)
def index() -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin.index", choices)
    return _render("staff/admin/index.html", clinic=settings, keep=keep, choices=choices)


# --- opening hours ------------------------------------------------------------------------------------


@bp.route("/opening-hours", methods=["GET", "POST"])
@staff_required(ADMIN)
def opening_hours() -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin.opening_hours", choices)
    done = url_for(".opening_hours", **keep)
    week = staff_admin.opening_hours(apis(), signed_in(), settings.id)

    def page(form: Form, status: int = 200) -> Any:
        return _render(
            "staff/admin/opening_hours.html",
            clinic=settings,
            keep=keep,
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
            form.errors.setdefault(name, gettext(HOURS_PROBLEMS[problem], day=day))
        if form.ok:
            try:
                staff_admin.set_opening_hours(apis(), signed_in(), settings.id, answer.spans)
            except ApiError as error:
                if error.status != 422:
                    raise
                apply_api_error(form, error, {}, N_("We could not save these hours. Check each day's times."))
        if not form.ok:
            return _response(page(form, 422))
        flash(gettext("The opening hours are saved."), "done")
        return redirect(done, 303)

    return _once(save, done)


def _response(rendered: tuple[str, int]) -> Response:
    body, status = rendered
    return Response(body, status=status, mimetype="text/html")


# --- prices -------------------------------------------------------------------------------------------


@bp.get("/prices")
@staff_required(ADMIN)
def prices() -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin.prices", choices)
    today = settings.today(_now())
    rows = staff_admin.price_list(apis(), signed_in(), settings.id, today)
    return _render(
        "staff/admin/prices.html",
        clinic=settings,
        keep=keep,
        rows=rows,
        today=today,
        saved=get_flashed_messages(category_filter=["done"]),
    )


class PriceForm(Schema):
    amount = fields.String(load_default="")
    day = fields.String(load_default="")
    month = fields.String(load_default="")
    year = fields.String(load_default="")


@bp.route("/prices/<uuid:treatment_type_id>", methods=["GET", "POST"])
@staff_required(ADMIN)
def price(treatment_type_id: uuid.UUID) -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin.prices", choices)
    today = settings.today(_now())
    rows = staff_admin.price_list(apis(), signed_in(), settings.id, today)
    row = next((r for r in rows if r.id == str(treatment_type_id)), None)
    if row is None:
        abort(404)
    done = url_for(".prices", **keep)

    def page(form: Form, wrong: tuple[str, ...] = (), status: int = 200) -> Any:
        return _render(
            "staff/admin/price.html", clinic=settings, keep=keep, row=row, form=form, wrong_parts=wrong
        ), status

    if request.method == "GET":
        return page(Form(values={"day": str(today.day), "month": str(today.month), "year": str(today.year)}))

    def save() -> Response:
        form = parse_form(PriceForm(), request.form)
        cents = parse_cents(form.data.get("amount", ""))
        if isinstance(cents, MoneyProblem):
            form.error("amount", MONEY_PROBLEMS[cents])
        answer = read_date(form.data.get("day", ""), form.data.get("month", ""), form.data.get("year", ""))
        wrong: tuple[str, ...] = ()
        effective = answer.value
        if answer.problem is not None or effective is None:
            wrong = answer.wrong_parts or ("day", "month", "year")
            reason = DATE_PROBLEMS.get(str(answer.problem), DATE_PROBLEMS["incomplete"])
            form.error(wrong[0], reason)
        elif not may_take_effect(effective, today, has_prices=row.prices.priced):
            wrong = ("day", "month", "year")
            form.error("day", N_("The new price must apply from today or later"))
        if form.ok and isinstance(cents, int) and effective is not None:
            try:
                staff_admin.set_price(
                    apis(),
                    signed_in(),
                    settings.id,
                    row.id,
                    amount_cents=cents,
                    currency=settings.currency,
                    effective_from=effective,
                )
            except ApiError as error:
                if error.status not in (409, 422):
                    raise
                if error.status == 409:
                    form.error("_form", N_("Someone changed this price meanwhile. Check it and try again."))
                else:
                    apply_api_error(
                        form,
                        error,
                        {
                            "amount_cents": ("amount", N_("Enter a price of 1,000,000.00 or less")),
                            "effective_from": ("day", N_("The new price must apply from today or later")),
                        },
                        N_("We could not save this price. Try again."),
                    )
            else:
                money = format_money(cents, settings.currency)
                flash(
                    gettext(
                        "%(treatment)s costs %(amount)s from %(day)s.",
                        treatment=row.name,
                        amount=money,
                        day=format_long_day(effective),
                    ),
                    "done",
                )
                return redirect(done, 303)
        return _response(page(form, wrong, 422))

    return _once(save, done)


# --- closures -----------------------------------------------------------------------------------------


class ClosureForm(Schema):
    starts_day = fields.String(load_default="")
    starts_month = fields.String(load_default="")
    starts_year = fields.String(load_default="")
    ends_day = fields.String(load_default="")
    ends_month = fields.String(load_default="")
    ends_year = fields.String(load_default="")
    reason = fields.String(
        required=True,
        validate=validate.Length(max=200, error=N_("The reason must be 200 characters or fewer")),
        error_messages={"required": N_("Enter the reason the clinic is closed, like “Statutory holiday”")},
    )


def _read_form_date(form: Form, prefix: str) -> tuple[date | None, tuple[str, ...]]:
    data = form.data if form.data else form.values
    answer = read_date(*(str(data.get(f"{prefix}_{part}", "")) for part in ("day", "month", "year")))
    if answer.value is not None:
        return answer.value, ()
    wrong = answer.wrong_parts or ("day", "month", "year")
    form.error(f"{prefix}_{wrong[0]}", DATE_PROBLEMS.get(str(answer.problem), DATE_PROBLEMS["incomplete"]))
    return None, wrong


@bp.route("/closures", methods=["GET", "POST"])
@staff_required(ADMIN)
def closures() -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin.closures", choices)
    done = url_for(".closures", **keep)

    def page(form: Form, wrong: dict[str, tuple[str, ...]] | None = None, status: int = 200) -> Any:
        return _render(
            "staff/admin/closures.html",
            clinic=settings,
            keep=keep,
            form=form,
            wrong_parts=wrong or {},
            rows=staff_admin.closures(apis(), signed_in(), settings.id),
            saved=get_flashed_messages(category_filter=["done"]),
        ), status

    if request.method == "GET":
        return page(Form())

    def add() -> Response:
        form = parse_form(ClosureForm(), request.form)
        starts, starts_wrong = _read_form_date(form, "starts")
        ends, ends_wrong = _read_form_date(form, "ends")
        if starts and ends and ends < starts:
            ends_wrong = ("day", "month", "year")
            form.error("ends_day", N_("The last day closed must be the same as or after the first"))
        if form.ok and starts and ends:
            try:
                staff_admin.add_closure(apis(), signed_in(), settings.id, starts, ends, form.data["reason"])
            except ApiError as error:
                if error.status != 422:
                    raise
                apply_api_error(
                    form,
                    error,
                    {
                        "ends_on": (
                            "ends_day",
                            N_("The last day closed must be the same as or after the first"),
                        ),
                        "reason": ("reason", N_("The reason must be 200 characters or fewer")),
                    },
                    N_("We could not add this closure. Check the dates."),
                )
            else:
                if starts == ends:
                    notice = gettext("The clinic is closed on %(day)s.", day=format_long_day(starts))
                else:
                    notice = gettext(
                        "The clinic is closed from %(first)s to %(last)s.",
                        first=format_long_day(starts),
                        last=format_long_day(ends),
                    )
                flash(notice, "done")
                return redirect(done, 303)
        return _response(page(form, {"starts": starts_wrong, "ends": ends_wrong}, 422))

    return _once(add, done)


@bp.post("/closures/<uuid:closure_id>/remove")
@staff_required(ADMIN)
def remove_closure(closure_id: uuid.UUID) -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin.closures", choices)
    done = url_for(".closures", **keep)

    def remove() -> Response:
        try:
            staff_admin.remove_closure(apis(), signed_in(), settings.id, str(closure_id))
        except ApiError as error:
            if error.status != 404:
                raise  # already removed (by someone else, or a repeat): the list says how it is now
        flash(gettext("The closure is removed."), "done")
        return redirect(done, 303)

    return _once(remove, done)


# --- booking policy -----------------------------------------------------------------------------------


class PolicyForm(Schema):
    min_notice_minutes = fields.Integer(
        required=True,
        strict=False,
        validate=validate.Range(
            min=0, max=MAX_NOTICE_MINUTES, error=N_("Enter a notice of 0 to 20160 minutes (two weeks)")
        ),
        error_messages={
            "required": N_("Enter the minimum notice in minutes, like 120"),
            "invalid": N_("Enter the minimum notice as a whole number of minutes, like 120"),
        },
    )
    horizon_days = fields.Integer(
        required=True,
        strict=False,
        validate=validate.Range(min=1, max=MAX_HORIZON_DAYS, error=N_("Enter 1 to 730 days")),
        error_messages={
            "required": N_("Enter how many days ahead patients may book, like 90"),
            "invalid": N_("Enter how many days ahead as a whole number, like 90"),
        },
    )
    slot_step_minutes = fields.Integer(
        required=True,
        strict=False,
        validate=validate.OneOf(SLOT_STEPS, error=N_("Choose how often appointments may start")),
        error_messages={
            "required": N_("Choose how often appointments may start"),
            "invalid": N_("Choose how often appointments may start"),
        },
    )


@bp.route("/booking-policy", methods=["GET", "POST"])
@staff_required(ADMIN)
def booking_policy() -> Response | str:
    settings, choices, keep = _clinic()
    if settings is None:
        return _choose("staff_admin.booking_policy", choices)
    done = url_for(".booking_policy", **keep)

    def page(form: Form, status: int = 200) -> Any:
        return _render(
            "staff/admin/booking_policy.html",
            clinic=settings,
            keep=keep,
            form=form,
            steps=[(str(step), gettext("Every %(minutes)s minutes", minutes=step)) for step in SLOT_STEPS],
            saved=get_flashed_messages(category_filter=["done"]),
        ), status

    if request.method == "GET":
        current = {
            "min_notice_minutes": str(settings.min_notice_minutes),
            "horizon_days": str(settings.horizon_days),
            "slot_step_minutes": str(settings.slot_step_minutes),
        }
        return page(Form(values=current))

    def save() -> Response:
        form = parse_form(PolicyForm(), request.form)
        if form.ok:
            try:
                staff_admin.set_booking_policy(apis(), signed_in(), settings.id, **form.data)
            except ApiError as error:
                if error.status != 422:
                    raise
                apply_api_error(
                    form,
                    error,
                    {
                        "min_notice_minutes": (
                            "min_notice_minutes",
                            N_("Enter a notice of 0 to 20160 minutes (two weeks)"),
                        ),
                        "horizon_days": ("horizon_days", N_("Enter 1 to 730 days")),
                        "slot_step_minutes": (
                            "slot_step_minutes",
                            N_("Choose how often appointments may start"),
                        ),
                    },
                    N_("We could not save the booking policy. Try again."),
                )
            else:
                flash(gettext("The online booking policy is saved."), "done")
                return redirect(done, 303)
        return _response(page(form, 422))

    return _once(save, done)
