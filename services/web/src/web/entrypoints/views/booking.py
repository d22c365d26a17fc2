"""Booking: clinic, treatment, practitioner, a week of free times, check and confirm; a series of IMS
sessions; moving one appointment; the booked pages with the calendar file and subscription link.

Every step is a GET with the answers so far in the query string, or a POST that redirects, so the browser's
Back button works and nothing needs JavaScript. Booking forms are accepted once (``submit_once``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from marshmallow import Schema, fields

from web.domain.slots import Slot, Times
from web.entrypoints.booking_steps import (
    ANY,
    BackToStep,
    BookForm,
    Choice,
    back_to_step,
    day_or_none,
    instant_or_none,
    known_practitioner,
    move_terms,
    now,
    picked,
    plan_step,
    template_helpers,
    uuid_or_none,
    week_of,
)
from web.entrypoints.context import apis, patient_required, signed_in
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, parse_form, submit_once
from web.service_layer import booking, clinic_catalogue, slot_search
from web.service_layer.clinic_catalogue import Catalogue, Treatment
from web.service_layer.ports import ApiError

bp = Blueprint("booking", __name__)
bp.context_processor(template_helpers)
bp.errorhandler(BackToStep)(back_to_step)

FEED_KEY = "calendar_feed_url"


# --- the answers so far ----------------------------------------------------------------------------------


def _chosen_so_far(values: Mapping[str, Any]) -> tuple[Choice, Catalogue, Treatment]:
    """The clinic and treatment chosen in the earlier steps, each still offered to this patient."""
    choice = Choice.read(values)
    if choice.clinic is None:
        raise BackToStep(url_for("booking.start"))
    found = clinic_catalogue.catalogue(apis(), signed_in(), choice.clinic)
    try:
        return choice, found, found.treatment(choice.treatment)
    except clinic_catalogue.NotOffered:
        raise BackToStep(url_for("booking.treatment", clinic=choice.clinic)) from None


def _several_clinics() -> bool:
    return len(clinic_catalogue.clinics(apis(), signed_in())) > 1


# --- step 1: clinic --------------------------------------------------------------------------------------


@bp.get("/book")
@patient_required
def start() -> Response | str:
    places = clinic_catalogue.clinics(apis(), signed_in())
    if len(places) == 1:
        return redirect(url_for("booking.treatment", clinic=places[0].id))
    form = Form(values={"clinic": request.args.get("clinic", "")})
    if "next" in request.args:
        chosen = uuid_or_none(request.args.get("clinic"))
        if any(place.id == chosen for place in places):
            return redirect(url_for("booking.treatment", clinic=chosen))
        form.error("clinic", N_("Select a clinic"))
    return render_template("booking/clinic.html", form=form, clinics=places)


# --- step 2: treatment -----------------------------------------------------------------------------------


@bp.get("/book/treatment")
@patient_required
def treatment() -> Response | str:
    choice = Choice.read(request.args)
    if choice.clinic is None:
        return redirect(url_for("booking.start"))
    found = clinic_catalogue.catalogue(apis(), signed_in(), choice.clinic)
    form = Form(values={"treatment": choice.treatment or ""})
    if "next" in request.args:
        if any(t.id == choice.treatment for t in found.offered):
            return redirect(url_for("booking.practitioner", **choice.args()))
        form.error("treatment", N_("Select a treatment"))
    return render_template(
        "booking/treatment.html",
        form=form,
        catalogue=found,
        choice=choice,
        several_clinics=_several_clinics(),
    )


# --- step 3: practitioner --------------------------------------------------------------------------------


@bp.get("/book/practitioner")
@patient_required
def practitioner() -> Response | str:
    choice, found, chosen = _chosen_so_far(request.args)
    qualified = found.qualified(chosen)
    form = Form(values={"practitioner": choice.practitioner or ""})
    if "next" in request.args:
        if choice.practitioner == ANY or any(p.id == choice.practitioner for p in qualified):
            return redirect(url_for("booking.times", **choice.args()))
        form.error("practitioner", N_("Select a practitioner, or any qualified practitioner"))
    return render_template(
        "booking/practitioner.html",
        form=form,
        catalogue=found,
        treatment=chosen,
        practitioners=qualified,
        choice=choice,
    )


# --- step 4: free times, a week at a time ----------------------------------------------------------------


@bp.get("/book/times")
@patient_required
def times() -> Response | str:
    choice, found, chosen = _chosen_so_far(request.args)
    if not known_practitioner(choice, found, chosen):
        return redirect(url_for("booking.practitioner", **choice.args()))
    qualified = found.qualified(chosen)
    free = slot_search.times(
        apis(),
        signed_in(),
        found.clinic,
        chosen.id,
        choice.practitioner_id,
        day_or_none(request.args.get("week")),
        now=now(),
        preferred=[p.id for p in qualified],
    )

    def slot_href(slot: Slot) -> str:
        return url_for("booking.review", **choice.args(at=slot.at, who=slot.practitioner_id))

    def week_href(monday: date) -> str:
        return url_for("booking.times", **choice.args(week=monday.isoformat()))

    return _times_page(
        found,
        chosen,
        choice.practitioner_id,
        free,
        slot_href,
        week_href,
        back=url_for("booking.practitioner", **choice.args()),
        choice=choice,
    )


def _times_page(
    found: Catalogue,
    treatment: Treatment,
    practitioner_id: str | None,
    free: Times,
    slot_href: Callable[[Slot], str],
    week_href: Callable[[date], str],
    **extra: Any,
) -> str:
    """A week of free times, for a new booking or for moving one (``extra``: what differs between them)."""
    return render_template(
        "booking/times.html",
        catalogue=found,
        treatment=treatment,
        practitioner=found.practitioner(practitioner_id),
        times=free,
        names=found.names(),
        slot_href=slot_href,
        week_href=week_href,
        taken=bool(request.args.get("taken")),
        **extra,
    )


# --- step 5: check and confirm ---------------------------------------------------------------------------


@bp.route("/book/review", methods=["GET", "POST"])
@patient_required
def review() -> Response | str:
    values = request.form if request.method == "POST" else request.args
    choice, found, chosen = _chosen_so_far(values)
    slot = picked(choice, found, chosen, values.get("at"), values.get("who"))
    if slot is None or not known_practitioner(choice, found, chosen):
        return redirect(url_for("booking.times", **choice.args()))
    taken_url = url_for("booking.times", **choice.args(week=week_of(slot, found.clinic.zone), taken=1))
    if request.method == "POST":
        form = parse_form(BookForm(), request.form)
        if not form.ok:
            abort(400)

        def confirm() -> Response:
            try:
                appointment_id = booking.book(
                    apis(),
                    signed_in(),
                    clinic_id=found.clinic.id,
                    treatment_id=chosen.id,
                    practitioner_id=slot.practitioner_id,
                    starts_at=slot.starts_at,
                )
            except booking.SlotTaken:
                return redirect(taken_url, 303)
            return redirect(url_for("booking.booked", appointment_id=appointment_id), 303)

        return submit_once(
            request.form.get(FORM_TOKEN_FIELD), confirm, already_done=url_for("appointments.index")
        )
    return render_template(
        "booking/review.html",
        catalogue=found,
        treatment=chosen,
        choice=choice,
        slot=slot,
        practitioner=found.practitioner(slot.practitioner_id),
        several_clinics=_several_clinics(),
        week=week_of(slot, found.clinic.zone),
    )


# --- booked: the calendar file and the subscription link ------------------------------------------------


@bp.get("/book/booked/<uuid:appointment_id>")
@patient_required
def booked(appointment_id: uuid.UUID) -> str:
    visit = booking.appointment(apis(), signed_in(), str(appointment_id))
    found = clinic_catalogue.catalogue(apis(), signed_in(), visit.clinic_id)
    return render_template(
        "booking/booked.html",
        visit=visit,
        catalogue=found,
        treatment=next((t for t in found.treatments if t.id == visit.treatment_type_id), None),
        practitioner=found.practitioner(visit.practitioner_id),
        room=clinic_catalogue.rooms(apis(), signed_in(), visit.clinic_id).get(visit.room_id or ""),
        feed_url=session.get(FEED_KEY),
    )


@bp.get("/appointments/<uuid:appointment_id>/calendar.ics")
@patient_required
def calendar_file(appointment_id: uuid.UUID) -> Response:
    """The appointment's calendar file from scheduling, fetched with the patient's token."""
    try:
        body, _ = booking.calendar_file(apis(), signed_in(), str(appointment_id))
    except ApiError as error:
        if error.status in (403, 404):
            abort(404)
        raise
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="appointment-{appointment_id}.ics"'
    return response


class FeedForm(Schema):
    next = fields.String(required=True)


def _local_path(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("appointments.index")
    return target


@bp.post("/book/calendar-feed")
@patient_required
def calendar_feed() -> Response:
    """A private subscription address for the patient's calendar app, shown on the page they came from.

    The address is this site's (``feed_file``): scheduling's own host may not be reachable from the
    patient's phone. The key travels in the query string, which the access log never records.
    """
    back = _local_path(request.form.get("next"))

    def create() -> Response:
        key = booking.new_calendar_feed(apis(), signed_in())
        session[FEED_KEY] = url_for("booking.feed_file", key=key, _external=True)
        return redirect(f"{back}#calendar-feed", 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), create, already_done=f"{back}#calendar-feed")


FEED_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,200}$")


@bp.get("/calendar/feed.ics")
def feed_file() -> Response:
    """A calendar app polls this (it cannot sign in): the patient's appointments, by the feed's key."""
    key = request.args.get("key", "")
    if not FEED_KEY_PATTERN.fullmatch(key):
        abort(404)
    try:
        body = booking.feed_file(apis(), key)
    except ApiError as error:
        if error.status in (403, 404, 410):
            abort(404)
        raise
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="appointments.ics"'
    return response


# --- a series of IMS sessions ----------------------------------------------------------------------------


@bp.route("/book/plan", methods=["GET", "POST"])
@patient_required
def plan() -> Response | str:
    values = request.form if request.method == "POST" else request.args
    choice, found, chosen = _chosen_so_far(values)
    first = picked(choice, found, chosen, values.get("at"), values.get("who"))
    if not chosen.is_ims or first is None or not known_practitioner(choice, found, chosen):
        return redirect(url_for("booking.times", **choice.args()))
    step = plan_step(
        values,
        found,
        chosen,
        first,
        again=lambda args: url_for("booking.plan", **choice.args(**args)),
        booked=lambda plan_id: url_for("booking.plan_booked", plan_id=plan_id),
        already_done=url_for("appointments.index"),
    )
    if not isinstance(step, dict):  # the confirmed series' redirect
        return step
    return render_template(
        "booking/plan.html", catalogue=found, treatment=chosen, choice=choice, names=found.names(), **step
    )


@bp.get("/book/plans/<uuid:plan_id>")
@patient_required
def plan_booked(plan_id: uuid.UUID) -> str:
    details, sessions = booking.plan_sessions(apis(), signed_in(), str(plan_id))
    found = clinic_catalogue.catalogue(apis(), signed_in(), str(details["clinic_id"]))
    return render_template(
        "booking/plan_booked.html",
        sessions=sessions,
        catalogue=found,
        treatment=next((t for t in found.treatments if t.id == str(details["treatment_type_id"])), None),
        names=found.names(),
        rooms=clinic_catalogue.rooms(apis(), signed_in(), found.clinic.id),
        feed_url=session.get(FEED_KEY),
    )


# --- moving one appointment ------------------------------------------------------------------------------


def _movable(appointment_id: uuid.UUID) -> tuple[booking.Appointment, Catalogue, Treatment | None]:
    visit = booking.appointment(apis(), signed_in(), str(appointment_id))
    found = clinic_catalogue.catalogue(apis(), signed_in(), visit.clinic_id)
    kind = next((t for t in found.treatments if t.id == visit.treatment_type_id), None)
    return visit, found, kind


def _cannot_move(visit: booking.Appointment, found: Catalogue, kind: Treatment | None) -> str | None:
    if kind is None or visit.status != "booked" or visit.starts_at <= now():
        return render_template("booking/cannot_move.html", visit=visit, catalogue=found, treatment=kind)
    return None


@bp.get("/appointments/<uuid:appointment_id>/reschedule")
@patient_required
def reschedule(appointment_id: uuid.UUID) -> str:
    visit, found, kind = _movable(appointment_id)
    refused = _cannot_move(visit, found, kind)
    if refused is not None or kind is None:
        return refused or ""
    free = slot_search.times(
        apis(),
        signed_in(),
        found.clinic,
        kind.id,
        visit.practitioner_id,
        day_or_none(request.args.get("week")),
        now=now(),
    )

    def slot_href(slot: Slot) -> str:
        return url_for(
            "booking.reschedule_review", appointment_id=appointment_id, at=slot.at, who=slot.practitioner_id
        )

    def week_href(monday: date) -> str:
        return url_for("booking.reschedule", appointment_id=appointment_id, week=monday.isoformat())

    return _times_page(
        found,
        kind,
        visit.practitioner_id,
        free,
        slot_href,
        week_href,
        back=url_for("appointments.index"),
        visit=visit,
    )


class MoveForm(Schema):
    at = fields.String(required=True)
    who = fields.UUID(required=True)


@bp.route("/appointments/<uuid:appointment_id>/reschedule/review", methods=["GET", "POST"])
@patient_required
def reschedule_review(appointment_id: uuid.UUID) -> Response | str:
    visit, found, kind = _movable(appointment_id)
    refused = _cannot_move(visit, found, kind)
    if refused is not None or kind is None:
        return refused or ""
    values = request.form if request.method == "POST" else request.args
    starts_at = instant_or_none(values.get("at"))
    if starts_at is None or starts_at <= now() or uuid_or_none(values.get("who")) != visit.practitioner_id:
        return redirect(url_for("booking.reschedule", appointment_id=appointment_id))
    slot = Slot(starts_at, visit.practitioner_id)
    if request.method == "POST":

        def confirm() -> Response:
            try:
                booking.reschedule(apis(), signed_in(), str(appointment_id), slot)
            except booking.SlotTaken:
                return redirect(
                    url_for(
                        "booking.reschedule",
                        appointment_id=appointment_id,
                        week=week_of(slot, found.clinic.zone),
                        taken=1,
                    ),
                    303,
                )
            return redirect(url_for("booking.rescheduled", appointment_id=appointment_id), 303)

        return submit_once(
            request.form.get(FORM_TOKEN_FIELD), confirm, already_done=url_for("appointments.index")
        )
    return render_template(
        "booking/reschedule_review.html",
        visit=visit,
        catalogue=found,
        treatment=kind,
        practitioner=found.practitioner(visit.practitioner_id),
        slot=slot,
        **move_terms(visit, slot, now()),
        week=week_of(slot, found.clinic.zone),
    )


@bp.get("/appointments/<uuid:appointment_id>/rescheduled")
@patient_required
def rescheduled(appointment_id: uuid.UUID) -> str:
    visit, found, kind = _movable(appointment_id)
    return render_template(
        "booking/booked.html",
        visit=visit,
        catalogue=found,
        treatment=kind,
        practitioner=found.practitioner(visit.practitioner_id),
        room=clinic_catalogue.rooms(apis(), signed_in(), visit.clinic_id).get(visit.room_id or ""),
        feed_url=session.get(FEED_KEY),
        moved=True,
    )
