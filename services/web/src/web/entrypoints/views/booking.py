"""Booking: clinic, treatment, practitioner, a week of free times, check and confirm; a series of IMS
sessions; moving one appointment; the booked pages with the calendar file and subscription link.

Every step is a GET with the answers so far in the query string, or a POST that redirects, so the browser's
Back button works and nothing needs JavaScript. Booking forms are accepted once (``submit_once``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_time, get_timezone_name
from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from marshmallow import Schema, fields, validate

from web.domain import plans as plan_rules
from web.domain import slots as slot_rules
from web.domain.slots import Slot
from web.entrypoints import i18n
from web.entrypoints.context import apis, patient_required, signed_in
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, parse_form, submit_once
from web.entrypoints.i18n import gettext
from web.service_layer import booking
from web.service_layer.booking import Catalogue, Treatment
from web.service_layer.ports import ApiError

bp = Blueprint("booking", __name__)

ANY = "any"
FEED_KEY = "calendar_feed_url"


def _zone_label(zone: str) -> str:
    """The clinic's zone the way people say it: 'Pacific Time', 'heure du Pacifique'."""
    return get_timezone_name(ZoneInfo(zone), "long", locale=i18n.locale())


def _time_only(moment: datetime, zone: str) -> str:
    """A time of day without the zone ('9:30 a.m.', '09 h 30'), where the zone is said once nearby."""
    return format_time(moment.astimezone(ZoneInfo(zone)), "short", locale=i18n.locale())


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "minutes": lambda n: timedelta(minutes=n),
        "hours": lambda n: timedelta(hours=n),
        "zone_label": _zone_label,
        "time_only": _time_only,
    }


# --- the answers so far ----------------------------------------------------------------------------------


def _uuid(value: str | None) -> str | None:
    """An id as it may go into an API path: a well-formed UUID, or nothing."""
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _instant(value: str | None) -> datetime | None:
    try:
        return slot_rules.parse_instant(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Choice:
    """What the patient chose so far, as it travels from step to step in the query string."""

    clinic: str | None = None
    treatment: str | None = None
    practitioner: str | None = None  # a practitioner's id, or "any"

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> Choice:
        practitioner = values.get("practitioner")
        return cls(
            clinic=_uuid(values.get("clinic")),
            treatment=_uuid(values.get("treatment")),
            practitioner=ANY if practitioner == ANY else _uuid(practitioner),
        )

    def args(self, **extra: Any) -> dict[str, Any]:
        found = {"clinic": self.clinic, "treatment": self.treatment, "practitioner": self.practitioner}
        return {k: v for k, v in (found | extra).items() if v is not None}

    @property
    def practitioner_id(self) -> str | None:
        """The practitioner to search for; None for any qualified one."""
        return None if self.practitioner in (None, ANY) else self.practitioner


def _now() -> datetime:
    return datetime.now(UTC)


class BackToStep(Exception):
    """An earlier step's choice is missing or no longer offered: go back to that step."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


@bp.errorhandler(BackToStep)
def _back_to_step(error: BackToStep) -> Response:
    return redirect(error.url)


def _chosen_so_far(values: Mapping[str, Any]) -> tuple[Choice, Catalogue, Treatment]:
    """The clinic and treatment chosen in the earlier steps, each still offered to this patient."""
    choice = Choice.read(values)
    if choice.clinic is None:
        raise BackToStep(url_for("booking.start"))
    found = booking.catalogue(apis(), signed_in(), choice.clinic)
    try:
        return choice, found, found.treatment(choice.treatment)
    except booking.NotOffered:
        raise BackToStep(url_for("booking.treatment", clinic=choice.clinic)) from None


def _several_clinics() -> bool:
    return len(booking.clinics(apis(), signed_in())) > 1


# --- step 1: clinic --------------------------------------------------------------------------------------


@bp.get("/book")
@patient_required
def start() -> Response | str:
    places = booking.clinics(apis(), signed_in())
    if len(places) == 1:
        return redirect(url_for("booking.treatment", clinic=places[0].id))
    form = Form(values={"clinic": request.args.get("clinic", "")})
    if "next" in request.args:
        chosen = _uuid(request.args.get("clinic"))
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
    found = booking.catalogue(apis(), signed_in(), choice.clinic)
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


def _known_practitioner(choice: Choice, found: Catalogue, chosen: Treatment) -> bool:
    return choice.practitioner == ANY or any(p.id == choice.practitioner for p in found.qualified(chosen))


@bp.get("/book/times")
@patient_required
def times() -> Response | str:
    choice, found, chosen = _chosen_so_far(request.args)
    if not _known_practitioner(choice, found, chosen):
        return redirect(url_for("booking.practitioner", **choice.args()))
    qualified = found.qualified(chosen)
    free = booking.times(
        apis(),
        signed_in(),
        found.clinic,
        chosen.id,
        choice.practitioner_id,
        _day(request.args.get("week")),
        now=_now(),
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
    free: booking.Times,
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


class BookForm(Schema):
    clinic = fields.UUID(required=True)
    treatment = fields.UUID(required=True)
    practitioner = fields.String(required=True)
    at = fields.String(required=True)
    who = fields.UUID(required=True)


def _picked(
    choice: Choice, found: Catalogue, chosen: Treatment, at: str | None, who: str | None
) -> Slot | None:
    """The chosen time, if it names a qualified practitioner (the one chosen, unless 'any') and is ahead."""
    starts_at = _instant(at)
    who = _uuid(who)
    if starts_at is None or who is None or starts_at <= _now():
        return None
    if choice.practitioner != ANY and who != choice.practitioner:
        return None
    if not any(p.id == who for p in found.qualified(chosen)):
        return None
    return Slot(starts_at, who)


def _week_of(slot: Slot, zone: Any) -> str:
    return slot_rules.monday_of(slot.local(zone).date()).isoformat()


@bp.route("/book/review", methods=["GET", "POST"])
@patient_required
def review() -> Response | str:
    values = request.form if request.method == "POST" else request.args
    choice, found, chosen = _chosen_so_far(values)
    slot = _picked(choice, found, chosen, values.get("at"), values.get("who"))
    if slot is None or not _known_practitioner(choice, found, chosen):
        return redirect(url_for("booking.times", **choice.args()))
    taken_url = url_for("booking.times", **choice.args(week=_week_of(slot, found.clinic.zone), taken=1))
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
        week=_week_of(slot, found.clinic.zone),
    )


# --- booked: the calendar file and the subscription link ------------------------------------------------


@bp.get("/book/booked/<uuid:appointment_id>")
@patient_required
def booked(appointment_id: uuid.UUID) -> str:
    visit = booking.appointment(apis(), signed_in(), str(appointment_id))
    found = booking.catalogue(apis(), signed_in(), visit.clinic_id)
    return render_template(
        "booking/booked.html",
        visit=visit,
        catalogue=found,
        treatment=next((t for t in found.treatments if t.id == visit.treatment_type_id), None),
        practitioner=found.practitioner(visit.practitioner_id),
        room=booking.rooms(apis(), signed_in(), visit.clinic_id).get(visit.room_id or ""),
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


class PlanForm(Schema):
    every = fields.Integer(
        required=True,
        validate=validate.OneOf(plan_rules.RHYTHMS, error=N_("Select how often")),
        error_messages={"required": N_("Select how often"), "invalid": N_("Select how often")},
    )
    sessions = fields.Integer(
        required=True,
        validate=validate.Range(
            min=plan_rules.MIN_SESSIONS,
            max=plan_rules.MAX_SESSIONS,
            error=N_("Choose from 2 to 12 sessions"),
        ),
        error_messages={
            "required": N_("Choose how many sessions"),
            "invalid": N_("Choose from 2 to 12 sessions"),
        },
    )


@bp.route("/book/plan", methods=["GET", "POST"])
@patient_required
def plan() -> Response | str:
    values = request.form if request.method == "POST" else request.args
    choice, found, chosen = _chosen_so_far(values)
    first = _picked(choice, found, chosen, values.get("at"), values.get("who"))
    if not chosen.is_ims or first is None or not _known_practitioner(choice, found, chosen):
        return redirect(url_for("booking.times", **choice.args()))
    zone = found.clinic.zone
    answered = request.method == "POST" or "every" in values or "sessions" in values
    form = Form(values={"every": "1", "sessions": str(plan_rules.DEFAULT_SESSIONS)})
    proposal = None
    notice = None
    if answered:
        form = parse_form(PlanForm(), values)
    if answered and form.ok:
        series = plan_rules.series_from(first.starts_at, zone, form.data["every"], form.data["sessions"])

        def preview() -> booking.Proposal:
            return booking.preview_plan(
                apis(),
                signed_in(),
                clinic_id=found.clinic.id,
                treatment_id=chosen.id,
                practitioner_id=first.practitioner_id,
                series=series,
            )

        proposal = preview()
        if request.method == "POST":
            picks = {
                row.index: request.form.get(f"alt-{row.index}", "") for row in proposal.rows if not row.free
            }
            form.values |= {f"alt-{index}": key for index, key in picks.items()}
            chosen_overrides, missing = plan_rules.overrides(proposal.rows, picks)
            for number in missing:
                row = next(r for r in proposal.rows if r.number == number)
                message = (
                    N_("Pick another time for session %(number)s")
                    if row.alternatives
                    else N_("Session %(number)s has no other time that day: pick another first session")
                )
                form.errors[f"alt-{row.index}"] = gettext(message, number=number)
            if form.ok:

                def confirm() -> Response:
                    try:
                        plan_id = booking.book_plan(
                            apis(),
                            signed_in(),
                            clinic_id=found.clinic.id,
                            treatment_id=chosen.id,
                            practitioner_id=first.practitioner_id,
                            series=series,
                            overrides=chosen_overrides,
                        )
                    except booking.PlanConflict:
                        return redirect(
                            url_for(
                                "booking.plan",
                                **choice.args(
                                    at=first.at,
                                    who=first.practitioner_id,
                                    every=series.every_weeks,
                                    sessions=series.sessions,
                                    taken=1,
                                ),
                            ),
                            303,
                        )
                    return redirect(url_for("booking.plan_booked", plan_id=plan_id), 303)

                return submit_once(
                    request.form.get(FORM_TOKEN_FIELD), confirm, already_done=url_for("appointments.index")
                )
    if request.args.get("taken"):
        notice = "taken"
    return render_template(
        "booking/plan.html",
        form=form,
        catalogue=found,
        treatment=chosen,
        choice=choice,
        first=first,
        proposal=proposal,
        names=found.names(),
        clocks_change=bool(proposal and plan_rules.clocks_change(proposal.rows, zone)),
        conflicts=plan_rules.conflicts(proposal.rows) if proposal else 0,
        notice=notice,
        rhythms=plan_rules.RHYTHMS,
        session_counts=range(plan_rules.MIN_SESSIONS, plan_rules.MAX_SESSIONS + 1),
        week=_week_of(first, zone),
    )


@bp.get("/book/plans/<uuid:plan_id>")
@patient_required
def plan_booked(plan_id: uuid.UUID) -> str:
    details, sessions = booking.plan_sessions(apis(), signed_in(), str(plan_id))
    found = booking.catalogue(apis(), signed_in(), str(details["clinic_id"]))
    return render_template(
        "booking/plan_booked.html",
        sessions=sessions,
        catalogue=found,
        treatment=next((t for t in found.treatments if t.id == str(details["treatment_type_id"])), None),
        names=found.names(),
        rooms=booking.rooms(apis(), signed_in(), found.clinic.id),
        feed_url=session.get(FEED_KEY),
    )


# --- moving one appointment ------------------------------------------------------------------------------


def _movable(appointment_id: uuid.UUID) -> tuple[booking.Appointment, Catalogue, Treatment | None]:
    visit = booking.appointment(apis(), signed_in(), str(appointment_id))
    found = booking.catalogue(apis(), signed_in(), visit.clinic_id)
    kind = next((t for t in found.treatments if t.id == visit.treatment_type_id), None)
    return visit, found, kind


def _cannot_move(visit: booking.Appointment, found: Catalogue, kind: Treatment | None) -> str | None:
    if kind is None or visit.status != "booked" or visit.starts_at <= _now():
        return render_template("booking/cannot_move.html", visit=visit, catalogue=found, treatment=kind)
    return None


@bp.get("/appointments/<uuid:appointment_id>/reschedule")
@patient_required
def reschedule(appointment_id: uuid.UUID) -> str:
    visit, found, kind = _movable(appointment_id)
    refused = _cannot_move(visit, found, kind)
    if refused is not None or kind is None:
        return refused or ""
    free = booking.times(
        apis(),
        signed_in(),
        found.clinic,
        kind.id,
        visit.practitioner_id,
        _day(request.args.get("week")),
        now=_now(),
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
    starts_at = _instant(values.get("at"))
    if starts_at is None or starts_at <= _now() or _uuid(values.get("who")) != visit.practitioner_id:
        return redirect(url_for("booking.reschedule", appointment_id=appointment_id))
    slot = Slot(starts_at, visit.practitioner_id)
    if request.method == "POST":

        def confirm() -> Response:
            try:
                booking.reschedule(
                    apis(),
                    signed_in(),
                    str(appointment_id),
                    starts_at=slot.starts_at,
                    practitioner_id=slot.practitioner_id,
                )
            except booking.SlotTaken:
                return redirect(
                    url_for(
                        "booking.reschedule",
                        appointment_id=appointment_id,
                        week=_week_of(slot, found.clinic.zone),
                        taken=1,
                    ),
                    303,
                )
            return redirect(url_for("booking.rescheduled", appointment_id=appointment_id), 303)

        return submit_once(
            request.form.get(FORM_TOKEN_FIELD), confirm, already_done=url_for("appointments.index")
        )
    now = _now()
    late = visit.free_cancellation_until is not None and now >= visit.free_cancellation_until
    return render_template(
        "booking/reschedule_review.html",
        visit=visit,
        catalogue=found,
        treatment=kind,
        practitioner=found.practitioner(visit.practitioner_id),
        slot=slot,
        late=late,
        new_free_until=slot.starts_at - (visit.starts_at - visit.free_cancellation_until)
        if visit.free_cancellation_until
        else None,
        week=_week_of(slot, found.clinic.zone),
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
        room=booking.rooms(apis(), signed_in(), visit.clinic_id).get(visit.room_id or ""),
        feed_url=session.get(FEED_KEY),
        moved=True,
    )
