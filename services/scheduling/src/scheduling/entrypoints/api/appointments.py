"""Appointments: book, read, list, reschedule, cancel; staff mark arrival, completion and no-shows.

Patients see only their own appointments (others' are 404); staff those of their clinic (another clinic's
are 404, and lists show their clinic's only; organisation-wide staff see every clinic's, ADR 0006).

One appointment's answers carry its version as an ETag; a change sent with If-Match applies only to that
version (else 412), and concurrent changes of one appointment take turns either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters

from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint
from scheduling.domain.model import Appointment, Suitability
from scheduling.entrypoints.api.context import container
from scheduling.entrypoints.api.schemas.appointments import (
    AppointmentQuery,
    AppointmentSchema,
    BookAppointmentRequest,
    CancelAppointmentRequest,
    IfMatchHeader,
    NoShowRequest,
    RescheduleRequest,
    SuitabilityRequest,
    SuitabilitySchema,
)
from scheduling.service_layer import appointments

blp = Blueprint("appointments", __name__, url_prefix="/appointments", description="Appointments")

ETAG = {
    "ETag": {
        "description": 'The appointment\'s version as a strong entity tag (e.g. `"3"`), for If-Match',
        "schema": {"type": "string"},
    }
}
MAX_PAGE_SIZE = 500  # a full clinic day (20 practitioners booked back to back) in one page
STALE = "If-Match named a version that is no longer current: read the appointment again"


def with_etag(appointment: Appointment) -> tuple[Appointment, dict[str, str]]:
    """The appointment and its ETag header (the version its answer shows)."""
    return appointment, {"ETag": f'"{appointment.version}"'}


@blp.route("", methods=["POST"])
@blp.arguments(BookAppointmentRequest())
@blp.response(201, AppointmentSchema, headers=ETAG)
@blp.alt_response(
    409,
    description="The practitioner, every room or the patient is not free at this time (a patient's other "
    "appointment is named in `conflicting_appointment_id`)",
)
@blp.alt_response(422, description="A scheduling rule or a field is invalid")
@blp.alt_response(404, description="No such clinic, practitioner, treatment type or patient (named)")
def book(body: dict[str, Any]) -> tuple[Appointment, dict[str, str]]:
    with container().uow() as uow:
        booked = appointments.book_appointment(uow, current_principal(), appointments.BookAppointment(**body))
        uow.commit()
    return with_etag(booked)


@blp.route("", methods=["GET"])
@blp.arguments(AppointmentQuery(), location="query")
@blp.response(200, AppointmentSchema(many=True))
@blp.paginate(max_page_size=MAX_PAGE_SIZE)
def list_appointments(
    query: dict[str, Any], pagination_parameters: PaginationParameters
) -> Sequence[Appointment]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = appointments.list_appointments(
            uow, current_principal(), page_of(pagination_parameters), appointments.AppointmentFilter(**query)
        )
        return items


@blp.route("/<uuid:appointment_id>", methods=["GET"])
@blp.response(200, AppointmentSchema, headers=ETAG)
def get_appointment(appointment_id: uuid.UUID) -> tuple[Appointment, dict[str, str]]:
    with container().uow() as uow:
        return with_etag(appointments.get_appointment(uow, current_principal(), appointment_id))


@blp.route("/<uuid:appointment_id>/cancel", methods=["POST"])
@blp.arguments(CancelAppointmentRequest())
@blp.arguments(IfMatchHeader(), location="headers")
@blp.response(200, AppointmentSchema, headers=ETAG)
@blp.alt_response(412, description=STALE)
@blp.alt_response(422, description="The appointment cannot be cancelled (already cancelled, or done)")
def cancel(
    body: dict[str, Any], headers: dict[str, Any], appointment_id: uuid.UUID
) -> tuple[Appointment, dict[str, str]]:
    with container().uow() as uow:
        cancelled = appointments.cancel_appointment(
            uow,
            current_principal(),
            appointment_id,
            body["reason"],
            body["waive_fee"],
            if_match=headers["if_match"],
        )
        uow.commit()
    return with_etag(cancelled)


@blp.route("/<uuid:appointment_id>/reschedule", methods=["POST"])
@blp.arguments(RescheduleRequest())
@blp.arguments(IfMatchHeader(), location="headers")
@blp.response(200, AppointmentSchema, headers=ETAG)
@blp.alt_response(
    409,
    description="The new time is taken (by the practitioner, every room, or the patient's other "
    "appointment, named in `conflicting_appointment_id`)",
)
@blp.alt_response(412, description=STALE)
@blp.alt_response(422, description="The new time is outside availability, or the appointment cannot move")
def reschedule(
    body: dict[str, Any], headers: dict[str, Any], appointment_id: uuid.UUID
) -> tuple[Appointment, dict[str, str]]:
    command = appointments.RescheduleAppointment(
        appointment_id=appointment_id, if_match=headers["if_match"], **body
    )
    with container().uow() as uow:
        moved = appointments.reschedule_appointment(uow, current_principal(), command)
        uow.commit()
    return with_etag(moved)


STAFF_AT_THE_DESK = ("practitioner", "front_desk", "admin")


@blp.route("/<uuid:appointment_id>/arrive", methods=["POST"])
@blp.arguments(IfMatchHeader(), location="headers")
@blp.response(200, AppointmentSchema, headers=ETAG)
@blp.alt_response(412, description=STALE)
@require_roles(*STAFF_AT_THE_DESK)
def arrive(headers: dict[str, Any], appointment_id: uuid.UUID) -> tuple[Appointment, dict[str, str]]:
    """The patient is here."""
    with container().uow() as uow:
        arrived = appointments.mark_arrived(
            uow, current_principal(), appointment_id, if_match=headers["if_match"]
        )
        uow.commit()
    return with_etag(arrived)


@blp.route("/<uuid:appointment_id>/complete", methods=["POST"])
@blp.arguments(IfMatchHeader(), location="headers")
@blp.response(200, AppointmentSchema, headers=ETAG)
@blp.alt_response(412, description=STALE)
@require_roles(*STAFF_AT_THE_DESK)
def complete(headers: dict[str, Any], appointment_id: uuid.UUID) -> tuple[Appointment, dict[str, str]]:
    """The appointment took place (FHIR status ``fulfilled``)."""
    with container().uow() as uow:
        completed = appointments.mark_completed(
            uow, current_principal(), appointment_id, if_match=headers["if_match"]
        )
        uow.commit()
    return with_etag(completed)


@blp.route("/<uuid:appointment_id>/no-show", methods=["POST"])
@blp.arguments(NoShowRequest())
@blp.arguments(IfMatchHeader(), location="headers")
@blp.response(200, AppointmentSchema, headers=ETAG)
@blp.alt_response(412, description=STALE)
@require_roles(*STAFF_AT_THE_DESK)
def no_show(
    body: dict[str, Any], headers: dict[str, Any], appointment_id: uuid.UUID
) -> tuple[Appointment, dict[str, str]]:
    """The patient did not come; staff may waive the fee."""
    with container().uow() as uow:
        marked = appointments.mark_no_show(
            uow, current_principal(), appointment_id, body["waive_fee"], if_match=headers["if_match"]
        )
        uow.commit()
    return with_etag(marked)


@blp.route("/<uuid:appointment_id>/suitability", methods=["POST"])
@blp.arguments(SuitabilityRequest())
@blp.response(201, SuitabilitySchema)
@require_roles("practitioner", "admin")
def record_suitability(body: dict[str, Any], appointment_id: uuid.UUID) -> Suitability:
    """After a completed assessment: is IMS suitable for this patient, and was consent recorded?"""
    with container().uow() as uow:
        finding = appointments.record_suitability(
            uow, current_principal(), appointments.RecordSuitability(assessment_id=appointment_id, **body)
        )
        uow.commit()
        return finding
