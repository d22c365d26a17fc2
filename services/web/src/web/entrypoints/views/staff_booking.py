"""The front desk books on a patient's behalf (issue 12): from the patient's row on the Patients page, the
portal's steps (treatment, practitioner, a week of free times, check and confirm) or a series of IMS
sessions with its Free / "Taken: pick another" table, for THAT patient, then a link to the day.

The steps are the portal's (``entrypoints/booking_steps.py``, the ``booking/*`` templates); only the URLs
and the wording are the desk's ("the patient", not "you"). Every step is a GET with the answers so far in the
query string, or a POST that redirects; booking forms are accepted once (``submit_once``). The role is checked
here (``staff_required``) and again by scheduling on every call.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from web.domain.slots import Slot
from web.entrypoints.booking_steps import (
    BackToStep,
    BookForm,
    Choice,
    back_to_step,
    day_or_none,
    known_practitioner,
    now,
    picked,
    plan_step,
    template_helpers,
    week_of,
)
from web.entrypoints.context import apis, signed_in, staff_required
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, parse_form, submit_once
from web.service_layer import booking, clinic_catalogue, staff_booking
from web.service_layer.clinic_catalogue import Treatment
from web.service_layer.staff_booking import DESK_ROLES, ForPatient

bp = Blueprint("staff_booking", __name__, url_prefix="/staff/book")
bp.context_processor(template_helpers)  # minutes, hours, zone_label, time_only: as on the portal's pages
bp.errorhandler(BackToStep)(back_to_step)


def _clinic(choice: Choice) -> Choice:
    """A clinic's staff book at their own clinic; organisation-wide staff at the one the Patients page had."""
    own = signed_in().clinic_id
    if own:
        return replace(choice, clinic=own)
    if choice.clinic is None:
        raise BackToStep(url_for("staff.patients"))
    return choice


def _keep(choice: Choice) -> dict[str, str]:
    """The clinic as the staff pages carry it: only for organisation-wide staff (who pick one)."""
    return {} if signed_in().clinic_id or choice.clinic is None else {"clinic": choice.clinic}


def _read(patient_id: uuid.UUID, values: Mapping[str, Any]) -> tuple[Choice, ForPatient]:
    choice = _clinic(Choice.read(values))
    assert choice.clinic is not None
    return choice, staff_booking.for_patient(apis(), signed_in(), choice.clinic, str(patient_id))


def _chosen(patient_id: uuid.UUID, values: Mapping[str, Any]) -> tuple[Choice, ForPatient, Treatment]:
    """The treatment chosen at the first step, still offered to this patient; else back to that step."""
    choice, found = _read(patient_id, values)
    try:
        return choice, found, found.catalogue.treatment(choice.treatment)
    except clinic_catalogue.NotOffered:
        raise BackToStep(url_for(".treatment", patient_id=patient_id, **choice.args())) from None


def _page(template: str, found: ForPatient, choice: Choice, **context: Any) -> str:
    return render_template(
        f"staff/booking/{template}",
        patient=found.patient,
        catalogue=found.catalogue,
        choice=choice,
        keep=_keep(choice),
        **context,
    )


# --- step 1: treatment -----------------------------------------------------------------------------------


@bp.get("/<uuid:patient_id>")
@staff_required(*DESK_ROLES)
def treatment(patient_id: uuid.UUID) -> Response | str:
    choice, found = _read(patient_id, request.args)
    form = Form(values={"treatment": choice.treatment or ""})
    if "next" in request.args:
        if any(t.id == choice.treatment for t in found.catalogue.offered):
            return redirect(url_for(".practitioner", patient_id=patient_id, **choice.args()))
        form.error("treatment", N_("Select a treatment"))
    return _page("treatment.html", found, choice, form=form)


# --- step 2: practitioner --------------------------------------------------------------------------------


@bp.get("/<uuid:patient_id>/practitioner")
@staff_required(*DESK_ROLES)
def practitioner(patient_id: uuid.UUID) -> Response | str:
    choice, found, chosen = _chosen(patient_id, request.args)
    form = Form(values={"practitioner": choice.practitioner or ""})
    if "next" in request.args:
        if known_practitioner(choice, found.catalogue, chosen):
            return redirect(url_for(".times", patient_id=patient_id, **choice.args()))
        form.error("practitioner", N_("Select a practitioner, or any qualified practitioner"))
    return _page(
        "practitioner.html",
        found,
        choice,
        form=form,
        treatment=chosen,
        practitioners=found.catalogue.qualified(chosen),
    )


# --- step 3: a week of free times ------------------------------------------------------------------------


@bp.get("/<uuid:patient_id>/times")
@staff_required(*DESK_ROLES)
def times(patient_id: uuid.UUID) -> Response | str:
    choice, found, chosen = _chosen(patient_id, request.args)
    if not known_practitioner(choice, found.catalogue, chosen):
        return redirect(url_for(".practitioner", patient_id=patient_id, **choice.args()))
    free = staff_booking.times(
        apis(),
        signed_in(),
        found.catalogue,
        chosen.id,
        choice.practitioner_id,
        day_or_none(request.args.get("week")),
        now=now(),
    )

    def slot_href(slot: Slot) -> str:
        return url_for(".review", patient_id=patient_id, **choice.args(at=slot.at, who=slot.practitioner_id))

    def week_href(monday: date) -> str:
        return url_for(".times", patient_id=patient_id, **choice.args(week=monday.isoformat()))

    return _page(
        "times.html",
        found,
        choice,
        treatment=chosen,
        practitioner=found.catalogue.practitioner(choice.practitioner_id),
        times=free,
        names=found.catalogue.names(),
        slot_href=slot_href,
        week_href=week_href,
        taken=bool(request.args.get("taken")),
    )


# --- step 4: check and confirm ---------------------------------------------------------------------------


def _first(
    patient_id: uuid.UUID, values: Mapping[str, Any]
) -> tuple[Choice, ForPatient, Treatment, Slot | None]:
    """The answers so far and the chosen time (None unless it is ahead, with a qualified practitioner)."""
    choice, found, chosen = _chosen(patient_id, values)
    slot = picked(choice, found.catalogue, chosen, values.get("at"), values.get("who"))
    if not known_practitioner(choice, found.catalogue, chosen):
        slot = None
    return choice, found, chosen, slot


@bp.route("/<uuid:patient_id>/review", methods=["GET", "POST"])
@staff_required(*DESK_ROLES)
def review(patient_id: uuid.UUID) -> Response | str:
    values = request.form if request.method == "POST" else request.args
    choice, found, chosen, slot = _first(patient_id, values)
    if slot is None:
        return redirect(url_for(".times", patient_id=patient_id, **choice.args()))
    week = week_of(slot, found.catalogue.clinic.zone)
    if request.method == "POST":
        if not parse_form(BookForm(), request.form).ok:
            abort(400)

        def confirm() -> Response:
            try:
                appointment_id = staff_booking.book(
                    apis(),
                    signed_in(),
                    str(patient_id),
                    clinic_id=found.catalogue.clinic.id,
                    treatment_id=chosen.id,
                    practitioner_id=slot.practitioner_id,
                    starts_at=slot.starts_at,
                )
            except booking.SlotTaken:
                taken = url_for(".times", patient_id=patient_id, **choice.args(week=week, taken=1))
                return redirect(taken, 303)
            return redirect(url_for(".booked", appointment_id=appointment_id, **_keep(choice)), 303)

        return submit_once(
            request.form.get(FORM_TOKEN_FIELD), confirm, already_done=url_for("staff.day", **_keep(choice))
        )
    return _page(
        "review.html",
        found,
        choice,
        treatment=chosen,
        slot=slot,
        practitioner=found.catalogue.practitioner(slot.practitioner_id),
        week=week,
    )


# --- a series of IMS sessions ----------------------------------------------------------------------------


@bp.route("/<uuid:patient_id>/plan", methods=["GET", "POST"])
@staff_required(*DESK_ROLES)
def plan(patient_id: uuid.UUID) -> Response | str:
    values = request.form if request.method == "POST" else request.args
    choice, found, chosen, first = _first(patient_id, values)
    if first is None or not chosen.is_ims:
        return redirect(url_for(".times", patient_id=patient_id, **choice.args()))
    step = plan_step(
        values,
        found.catalogue,
        chosen,
        first,
        patient_id=str(patient_id),
        again=lambda args: url_for(".plan", patient_id=patient_id, **choice.args(**args)),
        booked=lambda plan_id: url_for(".plan_booked", plan_id=plan_id, **_keep(choice)),
        already_done=url_for("staff.day", **_keep(choice)),
    )
    if not isinstance(step, dict):  # the confirmed series' redirect
        return step
    return _page("plan.html", found, choice, treatment=chosen, names=found.catalogue.names(), **step)


# --- booked: what was booked, and the day it is on -------------------------------------------------------


def _booked_page(done: staff_booking.Booked) -> str:
    choice = Choice(clinic=done.catalogue.clinic.id)
    return _page(
        "booked.html",
        ForPatient(done.patient, done.catalogue),
        choice,
        booked=done,
        names=done.catalogue.names(),
        day_url=url_for("staff.day", date=done.first_day.isoformat(), **_keep(choice))
        if done.first_day
        else None,
    )


@bp.get("/booked/<uuid:appointment_id>")
@staff_required(*DESK_ROLES)
def booked(appointment_id: uuid.UUID) -> str:
    return _booked_page(staff_booking.booked(apis(), signed_in(), str(appointment_id)))


@bp.get("/plans/<uuid:plan_id>")
@staff_required(*DESK_ROLES)
def plan_booked(plan_id: uuid.UUID) -> str:
    return _booked_page(staff_booking.booked_plan(apis(), signed_in(), str(plan_id)))
