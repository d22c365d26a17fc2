"""Staff pages: the front desk's day (columns per practitioner, appointments as blocks) and its actions, and
the clinic's patient list (search, find a patient new to the clinic, register a caller).

Every page here checks the staff role itself (``staff_required``); scheduling checks again on every call.
A clinic's staff see their own clinic (the token's ``clinic_id``); organisation-wide staff pick one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from flask import Blueprint, flash, get_flashed_messages, redirect, render_template, request, url_for
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.adapters.api import ApiError
from web.domain.day import parse_day
from web.domain.slots import Slot
from web.entrypoints.booking_steps import (
    Choice,
    day_or_none,
    known_practitioner,
    move_terms,
    picked,
    template_helpers,
    week_of,
)
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, apply_api_error, parse_form, submit_once
from web.entrypoints.i18n import LANGUAGES, format_when, gettext
from web.entrypoints.phones import e164
from web.service_layer import booking, staff_day, staff_patients, staff_practice
from web.service_layer.staff_booking import DESK_ROLES as MOVE_ROLES
from web.service_layer.staff_day import DESK_ROLES

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.context_processor(template_helpers)  # the booking templates' helpers, for moving an appointment

DONE = {
    "arrive": N_("%(patient)s is checked in."),
    "complete": N_("%(patient)s's appointment is completed."),
    "no_show": N_("%(patient)s is marked as a no-show."),
    "cancel": N_("%(patient)s's appointment is cancelled."),
}
REFUSED = {
    "arrive": N_("Could not check in: only a booked appointment can be checked in, from the day it is on."),
    "complete": N_(
        "Could not complete: only a booked or checked-in appointment can be completed, once it has started."
    ),
    "no_show": N_("Could not mark a no-show: only a booked appointment that has started can be."),
    "cancel": N_("Could not cancel: only a booked appointment can be cancelled."),
}
STALE = N_("Someone else changed this appointment meanwhile. Here it is as it is now: try again if needed.")
GONE = N_("This appointment could not be found any more.")


class DeskActionForm(Schema):
    """A block's action form: the version the page showed, whose appointment, and the fee choice."""

    version = fields.Integer(load_default=None, strict=False)
    patient = fields.String(load_default=None)
    waive_fee = fields.Boolean(load_default=False)


def _now() -> datetime:
    return datetime.now(UTC)


@bp.get("")
@staff_required()
def index() -> Response | str:
    """Where staff land after signing in: their first page."""
    if DESK_ROLES & set(signed_in().roles):
        return redirect(url_for(".day"))
    return render_template("staff/index.html")


def clinic_for(chosen: str | None) -> tuple[str | None, list[staff_day.ClinicChoice]]:
    """A clinic's staff work in their own clinic; organisation-wide staff pick one (the only one: that).

    Also the staff waitlist page's (``views.staff_waitlist``).
    """
    signed = signed_in()
    if signed.clinic_id:
        return signed.clinic_id, []
    choices = staff_day.clinics(apis(), signed)
    if chosen and any(c.id == chosen for c in choices):
        return chosen, choices
    if len(choices) == 1:
        return choices[0].id, choices
    return None, choices


def _day_args(**changes: Any) -> dict[str, Any]:
    """The day page's query (date, clinic, practitioner, cancelled shown, rooms) with ``changes``.

    ``practitioner=`` (empty: all practitioners) is kept: a practitioner's page otherwise shows their own.
    """
    keep = {key: request.args.get(key) for key in ("date", "clinic", "practitioner", "cancelled", "by")}
    return {
        key: value
        for key, value in (keep | changes).items()
        if value or (key == "practitioner" and value == "")
    }


def _practitioner_shown() -> str | None:
    """The practitioner whose column the day shows: as asked (empty: everyone's); a practitioner who asked
    for nothing sees their own day."""
    asked = request.args.get("practitioner")
    if asked is None:
        return signed_in().practitioner_id
    return asked or None


@bp.get("/day")
@staff_required(*DESK_ROLES)
def day() -> Response | str:
    clinic_id, choices = clinic_for(request.args.get("clinic"))
    if clinic_id is None:
        return render_template("staff/choose_clinic.html", clinics=choices)
    asked = request.args.get("date")
    now = _now()
    page = staff_day.day_page(
        apis(),
        signed_in(),
        clinic_id,
        parse_day(asked),  # None: today on the clinic's clock
        now,
        practitioner_id=_practitioner_shown(),
        show_cancelled=request.args.get("cancelled") == "shown",
        unnamed=gettext("Patient"),
        by_rooms=request.args.get("by") == "rooms",  # the rooms toggle: a column per room
        no_room=gettext("No room"),
    )
    today = now.astimezone(page.zone).date()
    chosen_day = page.layout.day
    # Links keep the day shown (never a mistyped date) and, for organisation-wide staff, the clinic.
    fixed = {"date": chosen_day.isoformat(), "clinic": clinic_id if choices else None}

    def day_url(**changes: Any) -> str:
        return url_for(".day", **_day_args(**(fixed | changes)))

    notices = cast(list[tuple[str, str]], get_flashed_messages(with_categories=True))
    refused = {
        category.split(":", 1)[1]: message for category, message in notices if category.startswith("refused:")
    }
    return render_template(
        "staff/day.html",
        page=page,
        layout=page.layout,
        now=now,
        today=today,
        bad_date=bool(asked) and parse_day(asked) is None,
        done=[message for category, message in notices if category == "done"],
        refused=refused,
        choices=choices,
        day_url=day_url,
        here=day_url(),
        can_move=bool(MOVE_ROLES & set(signed_in().roles)),
        can_open_patients=bool(staff_practice.HISTORY_ROLES & set(signed_in().roles)),
        may_record=staff_practice.may_record_suitability(signed_in()),  # "Record suitability" on a block
        show_practitioner=page.by_rooms,
        patients_query={"clinic": clinic_id} if choices else {},
        previous_day=(chosen_day - timedelta(days=1)).isoformat(),
        next_day=(chosen_day + timedelta(days=1)).isoformat(),
    )


@bp.post("/appointments/<uuid:appointment_id>/<any(arrive, complete, no_show, cancel):action>")
@staff_required(*DESK_ROLES)
def act(appointment_id: uuid.UUID, action: str) -> Response:
    back = _back(request.form.get("back"), str(appointment_id))

    def run() -> Response:
        form = parse_form(DeskActionForm(), request.form)
        data = form.data if form.ok else {}  # a mangled version: act on the current one
        patient = data.get("patient") or gettext("The patient")
        try:
            staff_day.act(
                apis(),
                signed_in(),
                str(appointment_id),
                action,
                version=data.get("version"),
                waive_fee=bool(data.get("waive_fee")),
            )
        except staff_day.Refused as refusal:
            sentence = {"stale": STALE, "gone": GONE}.get(refusal.reason, REFUSED[action])
            flash(gettext(sentence), f"refused:{appointment_id}")
        else:
            flash(gettext(DONE[action], patient=patient), "done")
        return redirect(back, 303)

    return submit_once(request.form.get(FORM_TOKEN_FIELD), run, already_done=back)


def _back(target: str | None, appointment_id: str) -> str:
    """Back to the day (or week) the action was taken from (its path only), at the block acted on."""
    day_path = url_for(".day")
    if not target or not any(
        target == p or target.startswith(p + "?") for p in (day_path, url_for("staff_week.week"))
    ):
        target = day_path  # the day's or the week's page only
    return f"{target}#appt-{appointment_id}"


# --- moving an appointment to another free time --------------------------------------------------------

MOVED = N_("%(patient)s's appointment is moved to %(when)s.")
NOT_MOVABLE = N_("Could not move: only a booked appointment can be moved.")


def _version(values: Any) -> int | None:
    """The version the Day page showed (carried along the steps), else None: the current one is moved."""
    return parse_form(DeskActionForm(), {"version": values.get("version") or ""}).data.get("version")


def _day_of(move: staff_day.Moving, starts_at: datetime) -> dict[str, str]:
    """The day page's query for the day of ``starts_at`` (and the clinic, for organisation-wide staff)."""
    keep = {} if signed_in().clinic_id else {"clinic": move.visit.clinic_id}
    return {"date": starts_at.astimezone(move.zone).date().isoformat()} | keep


def _moving(appointment_id: uuid.UUID) -> staff_day.Moving | Response:
    """The appointment to move; a booked one only, else back to its day with a sentence beside it."""
    try:
        move = staff_day.moving(apis(), signed_in(), str(appointment_id), gettext("Patient"))
    except staff_day.Refused:
        flash(gettext(GONE), f"refused:{appointment_id}")
        return redirect(url_for(".day"), 303)
    if move.visit.status != "booked" or move.treatment is None:
        shown = _version(request.values)  # changed since the page showed it: say so, as the day's actions do
        stale = shown is not None and shown != move.version
        flash(gettext(STALE if stale else NOT_MOVABLE), f"refused:{appointment_id}")
        return redirect(_back_to_block(move))
    return move


def _back_to_block(move: staff_day.Moving) -> str:
    """The appointment's block on the day it is on now."""
    return url_for(".day", **_day_of(move, move.visit.starts_at)) + f"#appt-{move.visit.id}"


def _move_args(values: Any, **extra: Any) -> dict[str, Any]:
    """What travels along the move's steps: the version shown and the practitioner asked for ("any": any)."""
    found = {"version": _version(values), "practitioner": values.get("practitioner")}
    return {key: value for key, value in (found | extra).items() if value is not None}


def _practitioner_asked(move: staff_day.Moving, values: Any) -> Choice:
    """The practitioner whose free times are shown: the appointment's, unless another (or any) is asked."""
    asked = Choice.read({"practitioner": values.get("practitioner") or move.visit.practitioner_id})
    assert move.treatment is not None
    if not known_practitioner(asked, move.catalogue, move.treatment):
        return Choice(practitioner=move.visit.practitioner_id)
    return asked


def _move_page(template: str, move: staff_day.Moving, **context: Any) -> str:
    return render_template(
        template,
        move=move,
        visit=move.visit,
        catalogue=move.catalogue,
        treatment=move.treatment,
        names=move.catalogue.names(),
        **context,
    )


@bp.get("/appointments/<uuid:appointment_id>/move")
@staff_required(*MOVE_ROLES)
def move(appointment_id: uuid.UUID) -> Response | str:
    found = _moving(appointment_id)
    if isinstance(found, Response):
        return found
    asked = _practitioner_asked(found, request.args)
    week = day_or_none(request.args.get("week"))
    free = staff_day.free_times(apis(), signed_in(), found, asked.practitioner_id, week, _now())

    def slot_href(slot: Slot) -> str:
        step = _move_args(request.args, at=slot.at, who=slot.practitioner_id)
        return url_for(".move_review", appointment_id=appointment_id, **step)

    def week_href(monday: date) -> str:
        step = _move_args(request.args, week=monday.isoformat())
        return url_for(".move", appointment_id=appointment_id, **step)

    assert found.treatment is not None
    return _move_page(
        "staff/move_times.html",
        found,
        practitioner=found.catalogue.practitioner(asked.practitioner_id),
        practitioners=found.catalogue.qualified(found.treatment),
        asked=asked.practitioner,
        version=_version(request.args),
        times=free,
        slot_href=slot_href,
        week_href=week_href,
        taken=bool(request.args.get("taken")),
        back=_back_to_block(found),
    )


@bp.route("/appointments/<uuid:appointment_id>/move/review", methods=["GET", "POST"])
@staff_required(*MOVE_ROLES)
def move_review(appointment_id: uuid.UUID) -> Response | str:
    found = _moving(appointment_id)
    if isinstance(found, Response):
        return found
    assert found.treatment is not None
    values = request.form if request.method == "POST" else request.args
    asked = _practitioner_asked(found, values)
    slot = picked(asked, found.catalogue, found.treatment, values.get("at"), values.get("who"))
    step = _move_args(values)
    if slot is None:
        return redirect(url_for(".move", appointment_id=appointment_id, **step))
    if request.method == "POST":
        return submit_once(
            request.form.get(FORM_TOKEN_FIELD),
            lambda: _moved(found, slot, step),
            already_done=url_for(".day", **_day_of(found, slot.starts_at)),
        )
    return _move_page(
        "staff/move_review.html",
        found,
        slot=slot,
        practitioner=found.catalogue.practitioner(slot.practitioner_id),
        was_with=found.catalogue.practitioner(found.visit.practitioner_id),
        step=step,
        week=week_of(slot, found.zone),
        day_url=_back_to_block(found),
        **move_terms(found.visit, slot, _now()),
    )


def _moved(move: staff_day.Moving, slot: Slot, step: dict[str, Any]) -> Response:
    """Move it, then to the new time's day with a notice (a lost time: its week; a refusal: the old day)."""
    appointment_id = move.visit.id
    try:
        staff_day.reschedule(apis(), signed_in(), move, slot, step.get("version"))
    except booking.SlotTaken:
        again = step | {"week": week_of(slot, move.zone), "taken": 1}
        return redirect(url_for(".move", appointment_id=appointment_id, **again), 303)
    except staff_day.Refused as refusal:
        sentence = {"stale": STALE, "gone": GONE}.get(refusal.reason, NOT_MOVABLE)
        flash(gettext(sentence), f"refused:{appointment_id}")
        return redirect(_back_to_block(move), 303)
    when = format_when(slot.starts_at, move.catalogue.clinic.timezone)
    flash(gettext(MOVED, patient=move.patient, when=when), "done")
    return redirect(url_for(".day", **_day_of(move, slot.starts_at)) + f"#appt-{appointment_id}", 303)


# --- the clinic's patient list -------------------------------------------------------------------------


class SearchForm(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=200))


class FindForm(Schema):
    contact = fields.String(
        required=True,
        validate=validate.Length(max=254),
        error_messages={"required": N_("Enter the patient's e-mail address or phone number")},
    )


class CallerForm(Schema):
    first_name = fields.String(
        required=True,
        validate=validate.Length(max=100, error=N_("First name must be 100 characters or fewer")),
        error_messages={"required": N_("Enter the patient's first name")},
    )
    last_name = fields.String(
        required=True,
        validate=validate.Length(max=100, error=N_("Last name must be 100 characters or fewer")),
        error_messages={"required": N_("Enter the patient's last name")},
    )
    email = fields.Email(
        required=True,
        error_messages={
            "required": N_("Enter the patient's e-mail address"),
            "invalid": N_("Enter an e-mail address like name@example.com"),
        },
    )
    phone = fields.String(load_default=None)
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


FOUND = N_("%(patient)s is now on your clinic's list: you can book for them.")
REGISTERED = N_(
    "%(patient)s is registered. To use the portal, they choose a password with “Forgot your password?”."
)


@bp.route("/patients", methods=["GET", "POST"])
@staff_required(*staff_patients.DESK_ROLES)
def patients() -> Response | str:
    """Search the clinic's patients; find one new to the clinic by exact contact; register a caller."""
    clinic_id, choices = clinic_for(request.values.get("clinic"))
    if clinic_id is None:
        return render_template("staff/choose_clinic.html", clinics=choices, target="staff.patients")
    keep = {"clinic": clinic_id} if choices else {}
    search_form = parse_form(SearchForm(), request.args)
    find_form, caller_form = Form(), Form(values={"language": "en"})
    if request.method == "POST":
        if request.form.get("form") == "find":
            find_form = parse_form(FindForm(), request.form)
            found = find_form.ok and _find(find_form, clinic_id)
            if found:
                flash(gettext(FOUND, patient=found.name), "done")
                return redirect(url_for(".patients", q=found.email, **keep), 303)
        else:
            caller_form = parse_form(CallerForm(), request.form)
            registered = caller_form.ok and _register(caller_form, clinic_id)
            if registered:
                flash(gettext(REGISTERED, patient=registered.name), "done")
                return redirect(url_for(".patients", q=registered.email, **keep), 303)
    text = search_form.data.get("q", "") if search_form.ok else ""
    result = staff_patients.search(apis(), signed_in(), clinic_id, text)
    status = 200 if find_form.ok and caller_form.ok else 422
    return (
        render_template(
            "staff/patients.html",
            result=result,
            text=text,
            search_form=search_form,
            find_form=find_form,
            caller_form=caller_form,
            keep=keep,
            done=get_flashed_messages(category_filter=["done"]),
        ),
        status,
    )


def _find(form: Form, clinic_id: str) -> staff_patients.PatientRow | None:
    contact = form.data["contact"]
    email = contact.lower() if "@" in contact else None
    phone = None if email else e164(contact, "CA")
    if email is None and phone is None:
        form.error(
            "contact", N_("Enter an e-mail address like name@example.com or a phone number like 604 555 0123")
        )
        return None
    try:
        return staff_patients.find(apis(), signed_in(), clinic_id, email=email, phone=phone)
    except ApiError as error:
        if error.status not in (404, 422):
            raise
        form.error(
            "contact",
            N_("No patient has this e-mail address.") if email else N_("No patient has this phone number."),
        )
        return None


def _register(form: Form, clinic_id: str) -> staff_patients.PatientRow | None:
    phone = None
    if form.data.get("phone"):
        phone = e164(form.data["phone"], "CA")
        if phone is None:
            form.error("phone", N_("Enter a phone number like 604 555 0123"))
            return None
    caller = staff_patients.NewCaller(
        first_name=form.data["first_name"],
        last_name=form.data["last_name"],
        email=form.data["email"],
        phone=phone,
        language=form.data["language"],
    )
    try:
        return staff_patients.register(apis(), signed_in(), clinic_id, caller)
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        apply_api_error(
            form,
            error,
            {
                "email": (
                    "email",
                    N_("A patient with this e-mail address is registered: find them with it above."),
                ),
                "phone": ("phone", N_("Enter a phone number like 604 555 0123")),
                "first_name": ("first_name", N_("Enter the patient's first name")),
                "last_name": ("last_name", N_("Enter the patient's last name")),
            },
            N_("We could not register this patient. Check the details below."),
        )
        return None
