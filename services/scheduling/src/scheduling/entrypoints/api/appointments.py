"""Appointments: book, read, list and cancel. Patients see only their own (others' are 404)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from clinic_shared.web.auth import current_principal
from scheduling.domain.model import Appointment
from scheduling.entrypoints.api import schemas
from scheduling.entrypoints.api.context import container, page_of
from scheduling.service_layer import services

blp = Blueprint("appointments", __name__, url_prefix="/appointments", description="Appointments")


@blp.route("", methods=["POST"])
@blp.arguments(schemas.BookAppointmentRequest)
@blp.response(201, schemas.AppointmentSchema)
@blp.alt_response(409, description="The practitioner is not free at this time")
@blp.alt_response(422, description="A scheduling rule or a field is invalid")
def book(body: dict[str, Any]) -> Appointment:
    with container().uow() as uow:
        return services.book_appointment(uow, current_principal(), services.BookAppointment(**body))


@blp.route("", methods=["GET"])
@blp.arguments(schemas.AppointmentQuery, location="query")
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
@blp.arguments(schemas.CancelAppointmentRequest)
@blp.response(200, schemas.AppointmentSchema)
def cancel(body: dict[str, Any], appointment_id: uuid.UUID) -> Appointment:
    with container().uow() as uow:
        return services.cancel_appointment(uow, current_principal(), appointment_id, body["reason"])
