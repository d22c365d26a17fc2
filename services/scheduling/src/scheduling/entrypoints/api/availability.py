"""Availability: opening hours, closures, booking policy, working hours, time off, rooms, and free slots.

Admins and the front desk manage availability; any signed-in user (patients too) may search free slots.
Staff act in their own clinic only: another clinic's answers 404 (ADR 0006).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields

from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.request_limits import Blueprint
from scheduling.domain.availability import Closure, Room, TimeOff
from scheduling.domain.model import Clinic
from scheduling.entrypoints.api.context import container
from scheduling.entrypoints.api.schemas.availability import (
    BookingPolicyRequest,
    ClosureRequest,
    ClosureSchema,
    RoomRequest,
    RoomSchema,
    SlotQuery,
    SlotSchema,
    TimeOffRequest,
    TimeOffSchema,
    WeeklyHoursRequest,
    WeeklyHoursSchema,
)
from scheduling.entrypoints.api.schemas.clinics import ClinicSchema
from scheduling.service_layer import availability as service
from scheduling.service_layer.availability import Slot, WeeklySpan

blp = Blueprint(
    "availability",
    __name__,
    url_prefix="/clinics/<uuid:clinic_id>",
    description="Availability and free slots",
)

MANAGERS = ("admin", "front_desk")


def _spans(body: dict[str, Any]) -> list[WeeklySpan]:
    return [WeeklySpan(**span) for span in body["hours"]]


@blp.route("/opening-hours", methods=["GET"])
@blp.response(200, WeeklyHoursSchema)
def get_opening_hours(clinic_id: uuid.UUID) -> dict[str, Any]:
    """The clinic's weekly opening hours (none: open every day)."""
    with container().uow() as uow:
        return {"hours": service.get_opening_hours(uow, current_principal(), clinic_id)}


@blp.route("/opening-hours", methods=["PUT"])
@blp.arguments(WeeklyHoursRequest())
@blp.response(200, WeeklyHoursSchema)
@require_roles(*MANAGERS)
def set_opening_hours(body: dict[str, Any], clinic_id: uuid.UUID) -> dict[str, Any]:
    """Replace the clinic's weekly opening hours (local wall-clock times)."""
    with container().uow() as uow:
        hours = service.set_opening_hours(uow, current_principal(), clinic_id, _spans(body))
        uow.commit()
        return {"hours": hours}


@blp.route("/booking-policy", methods=["PATCH"])
@blp.arguments(BookingPolicyRequest())
@blp.response(200, ClinicSchema)
@require_roles(*MANAGERS)
def update_booking_policy(body: dict[str, Any], clinic_id: uuid.UUID) -> Clinic:
    """Minimum notice and horizon for online booking, and the slot grid."""
    with container().uow() as uow:
        clinic = service.update_booking_policy(
            uow, current_principal(), service.UpdateBookingPolicy(clinic_id=clinic_id, **body)
        )
        uow.commit()
        return clinic


@blp.route("/closures", methods=["POST"])
@blp.arguments(ClosureRequest())
@blp.response(201, ClosureSchema)
@require_roles(*MANAGERS)
def add_closure(body: dict[str, Any], clinic_id: uuid.UUID) -> Closure:
    """Close the clinic on some local dates (a holiday)."""
    with container().uow() as uow:
        closure = service.add_closure(
            uow, current_principal(), clinic_id, body["starts_on"], body["ends_on"], body["reason"]
        )
        uow.commit()
        return closure


@blp.route("/closures", methods=["GET"])
@blp.response(200, ClosureSchema(many=True))
@blp.paginate()
def list_closures(clinic_id: uuid.UUID, pagination_parameters: PaginationParameters) -> Sequence[Closure]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = service.list_closures(
            uow,
            current_principal(),
            clinic_id,
            pagination_parameters.first_item,
            pagination_parameters.page_size,
        )
        return items


@blp.route("/closures/<uuid:closure_id>", methods=["DELETE"])
@blp.response(204)
@require_roles(*MANAGERS)
def remove_closure(clinic_id: uuid.UUID, closure_id: uuid.UUID) -> None:
    with container().uow() as uow:
        service.remove_closure(uow, current_principal(), clinic_id, closure_id)
        uow.commit()


@blp.route("/practitioners/<uuid:practitioner_id>/working-hours", methods=["GET"])
@blp.response(200, WeeklyHoursSchema)
def get_working_hours(clinic_id: uuid.UUID, practitioner_id: uuid.UUID) -> dict[str, Any]:
    """A practitioner's weekly hours (none: whenever the clinic is open)."""
    with container().uow() as uow:
        return {"hours": service.get_working_hours(uow, current_principal(), clinic_id, practitioner_id)}


@blp.route("/practitioners/<uuid:practitioner_id>/working-hours", methods=["PUT"])
@blp.arguments(WeeklyHoursRequest())
@blp.response(200, WeeklyHoursSchema)
@require_roles(*MANAGERS)
def set_working_hours(
    body: dict[str, Any], clinic_id: uuid.UUID, practitioner_id: uuid.UUID
) -> dict[str, Any]:
    """Replace a practitioner's weekly hours (local wall-clock times)."""
    with container().uow() as uow:
        hours = service.set_working_hours(uow, current_principal(), clinic_id, practitioner_id, _spans(body))
        uow.commit()
        return {"hours": hours}


@blp.route("/practitioners/<uuid:practitioner_id>/time-off", methods=["POST"])
@blp.arguments(TimeOffRequest())
@blp.response(201, TimeOffSchema)
@require_roles(*MANAGERS)
def add_time_off(body: dict[str, Any], clinic_id: uuid.UUID, practitioner_id: uuid.UUID) -> TimeOff:
    with container().uow() as uow:
        entry = service.add_time_off(
            uow,
            current_principal(),
            clinic_id,
            practitioner_id,
            body["starts_at"],
            body["ends_at"],
            body["reason"],
        )
        uow.commit()
        return entry


@blp.route("/practitioners/<uuid:practitioner_id>/time-off", methods=["GET"])
@blp.response(200, TimeOffSchema(many=True))
@blp.paginate()
@require_roles(*MANAGERS, "practitioner")
def list_time_off(
    clinic_id: uuid.UUID, practitioner_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[TimeOff]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = service.list_time_off(
            uow,
            current_principal(),
            clinic_id,
            practitioner_id,
            pagination_parameters.first_item,
            pagination_parameters.page_size,
        )
        return items


class ClinicTimeOffQuery(Schema):
    starts = fields.AwareDateTime(
        required=True, data_key="from", metadata={"description": "Time off ending after this instant"}
    )
    ends = fields.AwareDateTime(
        required=True, data_key="to", metadata={"description": "Time off starting before this instant"}
    )


@blp.route("/time-off", methods=["GET"])
@blp.arguments(ClinicTimeOffQuery(), location="query")
@blp.response(200, TimeOffSchema(many=True))
@blp.paginate()
@require_roles(*MANAGERS, "practitioner")
def list_clinic_time_off(
    query: dict[str, Any], clinic_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[TimeOff]:
    """Every practitioner's time off overlapping [from, to), by start: a calendar's shading in one read."""
    with container().uow() as uow:
        items, pagination_parameters.item_count = service.clinic_time_off(
            uow,
            current_principal(),
            clinic_id,
            (query["starts"], query["ends"]),
            pagination_parameters.first_item,
            pagination_parameters.page_size,
        )
        return items


@blp.route("/practitioners/<uuid:practitioner_id>/time-off/<uuid:time_off_id>", methods=["DELETE"])
@blp.response(204)
@require_roles(*MANAGERS)
def remove_time_off(clinic_id: uuid.UUID, practitioner_id: uuid.UUID, time_off_id: uuid.UUID) -> None:
    with container().uow() as uow:
        service.remove_time_off(uow, current_principal(), clinic_id, practitioner_id, time_off_id)
        uow.commit()


@blp.route("/rooms", methods=["POST"])
@blp.arguments(RoomRequest())
@blp.response(201, RoomSchema)
@blp.alt_response(409, description="A room with this name exists in the clinic (field `name`)")
@require_roles(*MANAGERS)
def add_room(body: dict[str, Any], clinic_id: uuid.UUID) -> Room:
    """Add a room or bed; from then on every appointment needs a free one."""
    with container().uow() as uow:
        room = service.add_room(uow, current_principal(), clinic_id, body["name"])
        uow.commit()
        return room


@blp.route("/rooms", methods=["GET"])
@blp.response(200, RoomSchema(many=True))
@blp.paginate()
def list_rooms(clinic_id: uuid.UUID, pagination_parameters: PaginationParameters) -> Sequence[Room]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = service.list_rooms(
            uow,
            current_principal(),
            clinic_id,
            pagination_parameters.first_item,
            pagination_parameters.page_size,
        )
        return items


@blp.route("/slots", methods=["GET"])
@blp.arguments(SlotQuery(), location="query")
@blp.response(200, SlotSchema(many=True))
@blp.paginate(page_size=50, max_page_size=500)
def search_slots(
    query: dict[str, Any], clinic_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[Slot]:
    """Free start times for a treatment over local days (at most 62), in UTC and in the clinic's zone."""
    with container().uow() as uow:
        slots = service.search_slots(
            uow, current_principal(), service.SearchSlots(clinic_id=clinic_id, **query)
        )
    pagination_parameters.item_count = len(slots)
    first = pagination_parameters.first_item
    return slots[first : first + pagination_parameters.page_size]
