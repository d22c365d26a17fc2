"""The booking steps' HTTP pieces shared by the portal (``views.booking``) and the front desk
(``views.staff_booking``, ``views.staff``): what was chosen so far as it travels in the query string, reading
a chosen time, the forms of the last steps, and the helpers the booking templates use.

Each flow keeps its own URLs and wording; what a step accepts is decided once, here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_time, get_timezone_name
from flask import redirect, request
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from web.domain import plans as plan_rules
from web.domain import slots as slot_rules
from web.domain.plans import ProposalRow
from web.domain.slots import Slot
from web.entrypoints import i18n
from web.entrypoints.context import apis, signed_in
from web.entrypoints.forms import FORM_TOKEN_FIELD, N_, Form, parse_form, submit_once
from web.entrypoints.i18n import gettext
from web.service_layer import booking
from web.service_layer.booking import Appointment
from web.service_layer.clinic_catalogue import Catalogue, Treatment

ANY = "any"  # any qualified practitioner


def zone_label(zone: str) -> str:
    """The clinic's zone the way people say it: 'Pacific Time', 'heure du Pacifique'."""
    return get_timezone_name(ZoneInfo(zone), "long", locale=i18n.locale())


def time_only(moment: datetime, zone: str) -> str:
    """A time of day without the zone ('9:30 a.m.', '09 h 30'), where the zone is said once nearby."""
    return format_time(moment.astimezone(ZoneInfo(zone)), "short", locale=i18n.locale())


def template_helpers() -> dict[str, Any]:
    """What the booking templates use besides the app's filters (a blueprint's context processor)."""
    return {
        "minutes": lambda n: timedelta(minutes=n),
        "hours": lambda n: timedelta(hours=n),
        "zone_label": zone_label,
        "time_only": time_only,
    }


# --- the answers so far ----------------------------------------------------------------------------------


def uuid_or_none(value: str | None) -> str | None:
    """An id as it may go into an API path: a well-formed UUID, or nothing."""
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def day_or_none(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def instant_or_none(value: str | None) -> datetime | None:
    try:
        return slot_rules.parse_instant(value) if value else None
    except ValueError:
        return None


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Choice:
    """What was chosen so far, as it travels from step to step in the query string."""

    clinic: str | None = None
    treatment: str | None = None
    practitioner: str | None = None  # a practitioner's id, or "any"

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> Choice:
        practitioner = values.get("practitioner")
        return cls(
            clinic=uuid_or_none(values.get("clinic")),
            treatment=uuid_or_none(values.get("treatment")),
            practitioner=ANY if practitioner == ANY else uuid_or_none(practitioner),
        )

    def args(self, **extra: Any) -> dict[str, Any]:
        found = {"clinic": self.clinic, "treatment": self.treatment, "practitioner": self.practitioner}
        return {k: v for k, v in (found | extra).items() if v is not None}

    @property
    def practitioner_id(self) -> str | None:
        """The practitioner to search for; None for any qualified one."""
        return None if self.practitioner in (None, ANY) else self.practitioner


class BackToStep(Exception):
    """An earlier step's choice is missing or no longer offered: go back to that step."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def back_to_step(error: BackToStep) -> Response:
    """The error handler both flows register for ``BackToStep``."""
    return redirect(error.url)


def known_practitioner(choice: Choice, found: Catalogue, chosen: Treatment) -> bool:
    return choice.practitioner == ANY or any(p.id == choice.practitioner for p in found.qualified(chosen))


def picked(
    choice: Choice, found: Catalogue, chosen: Treatment, at: str | None, who: str | None
) -> Slot | None:
    """The chosen time, if it names a qualified practitioner (the one chosen, unless 'any') and is ahead."""
    starts_at = instant_or_none(at)
    who = uuid_or_none(who)
    if starts_at is None or who is None or starts_at <= now():
        return None
    if choice.practitioner != ANY and who != choice.practitioner:
        return None
    if not any(p.id == who for p in found.qualified(chosen)):
        return None
    return Slot(starts_at, who)


def week_of(slot: Slot, zone: Any) -> str:
    """The Monday (ISO) of the slot's week on the clinic's clock: the week page to go back to."""
    return slot_rules.monday_of(slot.local(zone).date()).isoformat()


def move_terms(visit: Appointment, slot: Slot, moment: datetime) -> dict[str, Any]:
    """What moving ``visit`` to ``slot`` means for cancelling: whether it is late now (moving has no fee), and
    until when cancelling is free at the new time (the same notice before it)."""
    until = visit.free_cancellation_until
    return {
        "late": until is not None and moment >= until,
        "new_free_until": slot.starts_at - (visit.starts_at - until) if until else None,
    }


# --- the last steps' forms -------------------------------------------------------------------------------


class BookForm(Schema):
    clinic = fields.UUID(required=True)
    treatment = fields.UUID(required=True)
    practitioner = fields.String(required=True)
    at = fields.String(required=True)
    who = fields.UUID(required=True)


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


def plan_shape(values: Mapping[str, Any], *, posted: bool) -> Form:
    """How often and how many sessions: as answered (a GET with ``every`` or ``sessions``, or a POST), else
    the defaults (then ``form.data`` is empty: nothing to preview yet)."""
    if posted or "every" in values or "sessions" in values:
        return parse_form(PlanForm(), values)
    return Form(values={"every": "1", "sessions": str(plan_rules.DEFAULT_SESSIONS)})


MISSING_PICK = N_("Pick another time for session %(number)s")
NO_OTHER_TIME = N_("Session %(number)s has no other time that day: pick another first session")


def plan_overrides(form: Form, rows: list[ProposalRow], posted: Mapping[str, str]) -> list[dict[str, Any]]:
    """The other times picked for the taken sessions (``alt-<index>``), kept in the form; a sentence beside
    each taken session left without one."""
    picks = {row.index: posted.get(f"alt-{row.index}", "") for row in rows if not row.free}
    form.values |= {f"alt-{index}": key for index, key in picks.items()}
    chosen, missing = plan_rules.overrides(rows, picks)
    for row in (r for r in rows if r.number in missing):
        message = MISSING_PICK if row.alternatives else NO_OTHER_TIME
        form.errors[f"alt-{row.index}"] = gettext(message, number=row.number)
    return chosen


def plan_step(
    values: Mapping[str, Any],
    found: Catalogue,
    treatment: Treatment,
    first: Slot,
    *,
    patient_id: str = "",
    again: Callable[[dict[str, Any]], str],
    booked: Callable[[str], str],
    already_done: str,
) -> Response | dict[str, Any]:
    """The series step of either flow (``patient_id``: the desk's patient): the confirmed POST's redirect
    (to ``booked(plan_id)``, or back ``again(args)`` with ``taken`` when some dates went meanwhile), else
    what the series page shows besides the flow's own URLs and names."""
    posted = request.method == "POST"
    zone = found.clinic.zone
    form = plan_shape(values, posted=posted)
    proposal = None
    if form.ok and "every" in form.data:
        series = plan_rules.series_from(first.starts_at, zone, form.data["every"], form.data["sessions"])
        plan_of: dict[str, Any] = {
            "clinic_id": found.clinic.id,
            "treatment_id": treatment.id,
            "practitioner_id": first.practitioner_id,
            "series": series,
            "patient_id": patient_id,
        }
        proposal = booking.preview_plan(apis(), signed_in(), **plan_of)
        if posted:
            overrides = plan_overrides(form, proposal.rows, values)
            shape = {"at": first.at, "who": first.practitioner_id, "every": series.every_weeks}
            shape["sessions"] = series.sessions

            def confirm() -> Response:
                try:
                    plan_id = booking.book_plan(apis(), signed_in(), overrides=overrides, **plan_of)
                except booking.PlanConflict:
                    return redirect(again(shape | {"taken": 1}), 303)
                return redirect(booked(plan_id), 303)

            if form.ok:
                return submit_once(values.get(FORM_TOKEN_FIELD), confirm, already_done=already_done)
    return {"notice": "taken" if request.args.get("taken") else None} | plan_page_context(
        form, first, proposal, zone
    )


def plan_page_context(form: Form, first: Slot, proposal: Any, zone: ZoneInfo) -> dict[str, Any]:
    """What the series page shows besides the flow's own URLs and names."""
    rows = proposal.rows if proposal else []
    return {
        "form": form,
        "first": first,
        "proposal": proposal,
        "clocks_change": bool(proposal and plan_rules.clocks_change(rows, zone)),
        "conflicts": plan_rules.conflicts(rows) if proposal else 0,
        "rhythms": plan_rules.RHYTHMS,
        "session_counts": range(plan_rules.MIN_SESSIONS, plan_rules.MAX_SESSIONS + 1),
        "week": week_of(first, zone),
    }
