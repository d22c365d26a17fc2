"""My appointments: the list, cancelling (told the fee first), asking for an earlier time, and offers.

An offer's link (``/waitlist/offers/<id>``, e-mailed and texted by notifications) is kept out of the
access logs by the app; the page still needs the patient signed in, and scheduling shows an offer only to
the patient it was made to.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import UTC, datetime

from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.domain.visits import Visit
from web.domain.waitlist import DateProblem, OfferState, earlier_window, read_date
from web.entrypoints.context import apis, patient_required, signed_in
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, apply_api_error, parse_form, submit_once
from web.service_layer import appointments
from web.service_layer.ports import ApiError

bp = Blueprint("appointments", __name__)

RESCHEDULE_ENDPOINT = "booking.reschedule"
# Booking's proxy of scheduling's .ics for one appointment.
CALENDAR_ENDPOINT = "booking.calendar_file"
DATE_PROBLEMS = {
    DateProblem.INCOMPLETE: N_("The earliest date must include a day, a month and a year"),
    DateProblem.NOT_A_DATE: N_("The earliest date must be a real date, like 27 3 2026"),
    DateProblem.PAST: N_("The earliest date must be today or later"),
    DateProblem.NOT_BEFORE_APPOINTMENT: N_("The earliest date must be before the day of your appointment"),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _endpoint(name: str) -> str | None:
    """The endpoint if the app has it (another area's page is linked once it is registered)."""
    return name if name in current_app.view_functions else None


@bp.get("/appointments")
@patient_required
def index() -> str:
    return render_template(
        "appointments/index.html",
        overview=appointments.overview(apis(), signed_in(), _now()),
        now=_now(),
        reschedule_endpoint=_endpoint(RESCHEDULE_ENDPOINT),
        calendar_endpoint=_endpoint(CALENDAR_ENDPOINT),
        notice=request.args.get("done"),
    )


# --- cancelling -----------------------------------------------------------------------------------------


class CancelForm(Schema):
    seen = fields.String(load_default=None)  # the terms the page showed (see CancellationTerms.seen)


@bp.route("/appointments/<uuid:appointment_id>/cancel", methods=["GET", "POST"])
@patient_required
def cancel(appointment_id: uuid.UUID) -> Response:
    done = url_for(".cancelled", appointment_id=appointment_id)
    if request.method == "GET":
        return _cancel_page(appointments.cancellation(apis(), signed_in(), str(appointment_id), _now()))

    def act() -> Response:
        page = appointments.cancellation(apis(), signed_in(), str(appointment_id), _now())
        form = parse_form(CancelForm(), request.form)
        if not page.visit.can_cancel(_now()):
            return _cancel_page(page)
        if page.terms.changed_since(form.data.get("seen")):
            # Free cancellation ended (or the fee changed) since the page was shown: ask again.
            return _cancel_page(page, changed=True)
        try:
            appointments.cancel(apis(), signed_in(), str(appointment_id))
        except appointments.NotCancellable:
            return redirect(url_for(".cancel", appointment_id=appointment_id), 303)
        return redirect(done, 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), act, already_done=done)


def _cancel_page(page: appointments.Cancellation, *, changed: bool = False) -> Response:
    if not page.visit.can_cancel(_now()):
        return make_response(render_template("appointments/not_cancellable.html", visit=page.visit), 409)
    return make_response(render_template("appointments/cancel.html", page=page, changed=changed))


@bp.get("/appointments/<uuid:appointment_id>/cancelled")
@patient_required
def cancelled(appointment_id: uuid.UUID) -> Response | str:
    page = appointments.cancelled(apis(), signed_in(), str(appointment_id))
    if page.visit.status != "cancelled":
        return redirect(url_for(".index"))
    return render_template(
        "appointments/cancelled.html", page=page, invoices_endpoint=_endpoint("invoices.index")
    )


# --- asking for an earlier time -------------------------------------------------------------------------


class EarlierForm(Schema):
    practitioner = fields.String(load_default="same", validate=validate.OneOf(["same", "any"]))
    earliest_day = fields.String(load_default="")
    earliest_month = fields.String(load_default="")
    earliest_year = fields.String(load_default="")


@bp.route("/appointments/<uuid:appointment_id>/earlier", methods=["GET", "POST"])
@patient_required
def earlier(appointment_id: uuid.UUID) -> Response | str:
    later = appointments.visit(apis(), signed_in(), str(appointment_id))
    if not later.can_move(_now()):
        return redirect(url_for(".index"))
    if request.method == "GET":
        return _earlier_page(later, Form(values={"practitioner": "same"}))
    joined = url_for(".index", done="joined")
    return submit_once(request.form.get(FORM_TOKEN_FIELD), lambda: _join(later, joined), already_done=joined)


def _join(later: Visit, joined: str) -> Response:
    if appointments.waiting_for(apis(), signed_in(), later.id, _now()) is not None:
        return _earlier_page(later, Form())
    form = parse_form(EarlierForm(), request.form)
    if not form.ok:
        return _earlier_page(later, form)
    answer = read_date(form.data["earliest_day"], form.data["earliest_month"], form.data["earliest_year"])
    window = answer.problem or earlier_window(later.starts_at, answer.value, later.timezone, _now())
    if isinstance(window, DateProblem):
        wrong_parts = answer.wrong_parts or ("day", "month", "year")
        form.error(f"earliest_{wrong_parts[0]}", DATE_PROBLEMS[window])
        return _earlier_page(later, form, wrong_parts)
    try:
        appointments.join_waitlist(
            apis(), signed_in(), later, window, same_practitioner=form.data["practitioner"] == "same"
        )
    except ApiError as error:
        if error.status not in (404, 409, 422):
            raise
        apply_api_error(
            form,
            error,
            {},
            N_(
                "We could not put you on the waitlist for this appointment. "
                "Call the clinic to ask for an earlier time."
            ),
        )
        return _earlier_page(later, form)
    return redirect(joined, 303)


def _earlier_page(later: Visit, form: Form, wrong_parts: tuple[str, ...] = ()) -> Response:
    waiting = appointments.waiting_for(apis(), signed_in(), later.id, _now())
    return make_response(
        render_template(
            "appointments/earlier.html", visit=later, form=form, waiting=waiting, wrong_parts=wrong_parts
        )
    )


@bp.post("/waitlist/<uuid:entry_id>/withdraw")
@patient_required
def withdraw(entry_id: uuid.UUID) -> Response:
    appointments.withdraw(apis(), signed_in(), str(entry_id))
    return redirect(url_for(".index", done="left"), 303)


@bp.route("/waitlist/offers/<uuid:offer_id>", methods=["GET", "POST"])
@patient_required
def offer(offer_id: uuid.UUID) -> Response | str | tuple[str, int]:
    found = appointments.offer(apis(), signed_in(), str(offer_id), _now())
    here = url_for(".offer", offer_id=offer_id)
    if request.method == "POST":
        if found.state is not OfferState.OPEN:
            return redirect(here, 303)

        def act() -> Response:
            with suppress(appointments.OfferGone):  # the page then says what became of the offer
                appointments.take_offer(apis(), signed_in(), found.entry)
            return redirect(here, 303)

        return submit_once(request.form.get(FORM_TOKEN_FIELD), act, already_done=here)
    status = 410 if found.state is OfferState.LAPSED else 200
    can_ask_again = found.current is not None and found.current.can_move(_now())
    return render_template("appointments/offer.html", offer=found, can_ask_again=can_ask_again), status
