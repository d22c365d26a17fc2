"""The clinic admin's set-up pages: opening hours, prices, closures and the online booking policy.

Admins only (``staff_required("admin")``); scheduling and billing check the role and the clinic again on
every call. A clinic's admin sets up their own clinic; an organisation-wide admin picks one (``?clinic=``).
Each form is accepted once (form tokens); a mistake is a sentence beside its field, never the API's words.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from flask import Blueprint, abort, request
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.domain.clinic_setup import (
    MAX_HORIZON_DAYS,
    MAX_NOTICE_MINUTES,
    SLOT_STEPS,
    HoursProblem,
    MoneyProblem,
    form_values,
    may_take_effect,
    parse_cents,
)
from web.domain.waitlist import read_date
from web.entrypoints.context import apis, signed_in
from web.entrypoints.forms import N_, Form, parse_form
from web.entrypoints.i18n import format_long_day, format_money, gettext
from web.entrypoints.views.staff_admin_common import (
    DATE_PROBLEMS,
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
from web.service_layer import staff_admin

bp = Blueprint("staff_admin", __name__, url_prefix="/staff/clinic")

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


def _now() -> datetime:
    return datetime.now(UTC)


@bp.get("")
@admin_page()
def index(at: ClinicPage) -> Response:
    return at.render("staff/admin/index.html", notices=False, choices=at.choices)


# --- opening hours ------------------------------------------------------------------------------------


@bp.route("/opening-hours", methods=["GET", "POST"])
@admin_page()
def opening_hours(at: ClinicPage) -> Response:
    done = at.url(".opening_hours")
    week = staff_admin.opening_hours(apis(), signed_in(), at.id)

    def page(form: Form, status: int = 200) -> Response:
        return at.render("staff/admin/opening_hours.html", status, form=form, week=week, **week_context())

    if request.method == "GET":
        return page(Form(values=form_values(week)))

    def save() -> Response:
        form, answer = read_week_form(HOURS_PROBLEMS)
        if form.ok:
            with ApiRefusal(form, {}, N_("We could not save these hours. Check each day's times.")):
                staff_admin.set_opening_hours(apis(), signed_in(), at.id, answer.spans)
        if not form.ok:
            return page(form, 422)
        return saved_and_back(gettext("The opening hours are saved."), done)

    return once(save, done)


# --- prices -------------------------------------------------------------------------------------------


@bp.get("/prices")
@admin_page()
def prices(at: ClinicPage) -> Response:
    today = at.settings.today(_now())
    rows = staff_admin.price_list(apis(), signed_in(), at.id, today)
    return at.render("staff/admin/prices.html", rows=rows, today=today)


class PriceForm(Schema):
    amount = fields.String(load_default="")
    day = fields.String(load_default="")
    month = fields.String(load_default="")
    year = fields.String(load_default="")


@bp.route("/prices/<uuid:treatment_type_id>", methods=["GET", "POST"])
@admin_page("staff_admin.prices")
def price(at: ClinicPage, treatment_type_id: uuid.UUID) -> Response:
    settings = at.settings
    today = settings.today(_now())
    rows = staff_admin.price_list(apis(), signed_in(), at.id, today)
    row = next((r for r in rows if r.id == str(treatment_type_id)), None)
    if row is None:
        abort(404)
    done = at.url(".prices")

    def page(form: Form, wrong: tuple[str, ...] = (), status: int = 200) -> Response:
        return at.render(
            "staff/admin/price.html", status, notices=False, row=row, form=form, wrong_parts=wrong
        )

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
        if not (form.ok and isinstance(cents, int) and effective is not None):
            return page(form, wrong, 422)
        with ApiRefusal(
            form,
            {
                "amount_cents": ("amount", N_("Enter a price of 1,000,000.00 or less")),
                "effective_from": ("day", N_("The new price must apply from today or later")),
            },
            N_("We could not save this price. Try again."),
            statuses=(409, 422),
            conflict=N_("Someone changed this price meanwhile. Check it and try again."),
        ):
            staff_admin.set_price(
                apis(),
                signed_in(),
                at.id,
                row.id,
                amount_cents=cents,
                currency=settings.currency,
                effective_from=effective,
            )
        if not form.ok:
            return page(form, wrong, 422)
        money = format_money(cents, settings.currency)
        notice = gettext(
            "%(treatment)s costs %(amount)s from %(day)s.",
            treatment=row.name,
            amount=money,
            day=format_long_day(effective),
        )
        return saved_and_back(notice, done)

    return once(save, done)


# --- closures -----------------------------------------------------------------------------------------


class ClosureForm(DayRangeForm):
    reason = fields.String(
        required=True,
        validate=validate.Length(max=200, error=REASON_TOO_LONG),
        error_messages={"required": N_("Enter the reason the clinic is closed, like “Statutory holiday”")},
    )


@bp.route("/closures", methods=["GET", "POST"])
@admin_page()
def closures(at: ClinicPage) -> Response:
    done = at.url(".closures")

    def page(form: Form, wrong: dict[str, tuple[str, ...]] | None = None, status: int = 200) -> Response:
        rows = staff_admin.closures(apis(), signed_in(), at.id)
        return at.render("staff/admin/closures.html", status, form=form, wrong_parts=wrong or {}, rows=rows)

    if request.method == "GET":
        return page(Form())

    def closed(first: date, last: date) -> str:
        if first == last:
            return gettext("The clinic is closed on %(day)s.", day=format_long_day(first))
        return gettext(
            "The clinic is closed from %(first)s to %(last)s.",
            first=format_long_day(first),
            last=format_long_day(last),
        )

    def add() -> Response:
        return add_day_range(
            ClosureForm(),
            backwards=N_("The last day closed must be the same as or after the first"),
            api_last_day="ends_on",
            fallback=N_("We could not add this closure. Check the dates."),
            add=lambda first, last, reason: staff_admin.add_closure(
                apis(), signed_in(), at.id, first, last, reason
            ),
            notice=closed,
            page=page,
            done=done,
        )

    return once(add, done)


@bp.post("/closures/<uuid:closure_id>/remove")
@admin_page("staff_admin.closures")
def remove_closure(at: ClinicPage, closure_id: uuid.UUID) -> Response:
    return remove_once(
        lambda: staff_admin.remove_closure(apis(), signed_in(), at.id, str(closure_id)),
        gettext("The closure is removed."),
        at.url(".closures"),
    )


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
@admin_page()
def booking_policy(at: ClinicPage) -> Response:
    settings = at.settings
    done = at.url(".booking_policy")

    def page(form: Form, status: int = 200) -> Response:
        steps = [(str(step), gettext("Every %(minutes)s minutes", minutes=step)) for step in SLOT_STEPS]
        return at.render("staff/admin/booking_policy.html", status, form=form, steps=steps)

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
            with ApiRefusal(
                form,
                {
                    "min_notice_minutes": (
                        "min_notice_minutes",
                        N_("Enter a notice of 0 to 20160 minutes (two weeks)"),
                    ),
                    "horizon_days": ("horizon_days", N_("Enter 1 to 730 days")),
                    "slot_step_minutes": ("slot_step_minutes", N_("Choose how often appointments may start")),
                },
                N_("We could not save the booking policy. Try again."),
            ):
                staff_admin.set_booking_policy(apis(), signed_in(), at.id, **form.data)
        if not form.ok:
            return page(form, 422)
        return saved_and_back(gettext("The online booking policy is saved."), done)

    return once(save, done)
