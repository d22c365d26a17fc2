"""Appointments: book, read, list, reschedule, cancel; staff mark arrival, completion and no-shows.

Patients see only their own appointments (others' are 404).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters

from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.request_limits import Blueprint
from scheduling.domain.model import Appointment, Suitability
from scheduling.entrypoints.api import schemas
from scheduling.entrypoints.api.context import container, page_of
from scheduling.service_layer import services

blp = Blueprint("appointments", __name__, url_prefix="/appointments", description="Appointments")


@blp.route("", methods=["POST"])
@blp.arguments(schemas.BookAppointmentRequest())
@blp.response(201, schemas.AppointmentSchema)
@blp.alt_response(409, description="The practitioner is not free at this time")
@blp.alt_response(422, description="A scheduling rule or a field is invalid")
def book(body: dict[str, Any]) -> Appointment:
    with container().uow() as uow:
        return services.book_appointment(uow, current_principal(), services.BookAppointment(**body))


@blp.route("", methods=["GET"])
@blp.arguments(schemas.AppointmentQuery(), location="query")
@blp.response(200, schemas.AppointmentSchema(many=True))
@blp.paginate()
def list_appointments(
    query: dict[str, Any], pagination_parameters: PaginationParameters
) -> Sequence[Appointment]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = services.list_appointments(
            uow, current_principal(), page_of(pagination_parameters), query["patient_id"]
        )
        return items


@blp.route("/<uuid:appointment_id>", methods=["GET"])
@blp.response(200, schemas.AppointmentSchema)
def get_appointment(appointment_id: uuid.UUID) -> Appointment:
    with container().uow() as uow:
        return services.get_appointment(uow, current_principal(), appointment_id)


@blp.route("/<uuid:appointment_id>/cancel", methods=["POST"])
@blp.arguments(schemas.CancelAppointmentRequest())
@blp.response(200, schemas.AppointmentSchema)
def cancel(body: dict[str, Any], appointment_id: uuid.UUID) -> Appointment:
    with container().uow() as uow:
        return services.cancel_appointment(
            uow, current_principal(), appointment_id, body["reason"], body["waive_fee"]
        )


@blp.route("/<uuid:appointment_id>/reschedule", methods=["POST"])
@blp.arguments(schemas.RescheduleRequest())
@blp.response(200, schemas.AppointmentSchema)
@blp.alt_response(409, description="The new time is taken")
@blp.alt_response(422, description="The new time is outside availability, or the appointment cannot move")
def reschedule(body: dict[str, Any], appointment_id: uuid.UUID) -> Appointment:
    with container().uow() as uow:
        return services.reschedule_appointment(
            uow, current_principal(), services.RescheduleAppointment(appointment_id=appointment_id, **body)
        )


STAFF_AT_THE_DESK = ("practitioner", "front_desk", "admin")


@blp.route("/<uuid:appointment_id>/arrive", methods=["POST"])
@blp.response(200, schemas.AppointmentSchema)
@require_roles(*STAFF_AT_THE_DESK)
def arrive(appointment_id: uuid.UUID) -> Appointment:
    """The patient is here."""
    with container().uow() as uow:
        return services.mark_arrived(uow, appointment_id)


@blp.route("/<uuid:appointment_id>/complete", methods=["POST"])
@blp.response(200, schemas.AppointmentSchema)
@require_roles(*STAFF_AT_THE_DESK)
def complete(appointment_id: uuid.UUID) -> Appointment:
    """The appointment took place (FHIR status ``fulfilled``)."""
    with container().uow() as uow:
        return services.mark_completed(uow, appointment_id)


@blp.route("/<uuid:appointment_id>/no-show", methods=["POST"])
@blp.arguments(schemas.NoShowRequest())
@blp.response(200, schemas.AppointmentSchema)
@require_roles(*STAFF_AT_THE_DESK)
def no_show(body: dict[str, Any], appointment_id: uuid.UUID) -> Appointment:
    """The patient did not come; staff may waive the fee."""
    with container().uow() as uow:
        return services.mark_no_show(uow, appointment_id, body["waive_fee"])


@blp.route("/<uuid:appointment_id>/suitability", methods=["POST"])
@blp.arguments(schemas.SuitabilityRequest())
@blp.response(201, schemas.SuitabilitySchema)
@require_roles("practitioner", "admin")
def record_suitability(body: dict[str, Any], appointment_id: uuid.UUID) -> Suitability:
    """After a completed assessment: is IMS suitable for this patient, and was consent recorded?"""
    with container().uow() as uow:
        return services.record_suitability(
            uow, current_principal(), services.RecordSuitability(assessment_id=appointment_id, **body)
        )
