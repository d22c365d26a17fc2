"""Treatment plans: a series of IMS sessions booked all or nothing, its progress, extension and cancellation.

A 409 answer to a plan request carries ``conflicts``: each session that cannot be booked, why, and the
nearest alternatives; nothing is held, and the client re-submits with ``overrides``.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields

from clinic_shared.web.auth import current_principal
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint
from scheduling.entrypoints.api.context import container
from scheduling.entrypoints.api.schemas.plans import (
    CancelPlanRequest,
    CreatePlanRequest,
    ExtendPlanRequest,
    PlanQuery,
    PlanSchema,
)
from scheduling.service_layer import plans
from scheduling.service_layer.plan_booking import SessionOverride
from scheduling.service_layer.plans import PlanPreview, PlanView

blp = Blueprint(
    "plans",
    __name__,
    url_prefix="/plans",
    description="Treatment plans. Staff see and plan at their own clinic only (another clinic's plan is "
    "404); a clinic's staff plan for patients who already have an appointment, plan or waitlist entry there.",
)


def _overrides(body: dict[str, Any]) -> tuple[SessionOverride, ...]:
    return tuple(SessionOverride(**o) for o in body.pop("overrides"))


@blp.route("", methods=["POST"])
@blp.arguments(CreatePlanRequest())
@blp.response(201, PlanSchema)
@blp.alt_response(409, description="Some sessions collide: `conflicts` lists them with alternatives")
@blp.alt_response(422, description="The patient is not cleared for IMS, or a field is invalid")
def create_plan(body: dict[str, Any]) -> PlanView:
    overrides = _overrides(body)
    with container().uow() as uow:
        view = plans.create_plan(uow, current_principal(), plans.CreatePlan(**body, overrides=overrides))
        uow.commit()
        return view


class AlternativeSchema(Schema):
    kind = fields.String(metadata={"description": "`same_practitioner` or `other_practitioner`"})
    practitioner_id = fields.UUID()
    starts_at = fields.AwareDateTime(format="iso", metadata={"description": "UTC"})
    local_starts_at = fields.AwareDateTime(format="iso", metadata={"description": "In the clinic's zone"})


class PreviewSessionSchema(Schema):
    index = fields.Integer(metadata={"description": "Counts from 0; the index an override names"})
    local_date = fields.Date(metadata={"description": "The session's day in the clinic's zone"})
    status = fields.String(
        metadata={"description": "`free`, or why not: `taken`, `unavailable`, `nonexistent_local_time`"}
    )
    starts_at = fields.AwareDateTime(format="iso", allow_none=True, metadata={"description": "UTC"})
    local_starts_at = fields.AwareDateTime(format="iso", allow_none=True)
    ends_at = fields.AwareDateTime(format="iso", allow_none=True)
    practitioner_id = fields.UUID()
    room_id = fields.UUID(allow_none=True, metadata={"description": "The room it would take, if any"})
    ambiguous_local_time = fields.Boolean(
        metadata={
            "description": "Its local time happens twice that day (clocks go back): `occurrence` in the "
            "request picks which; `starts_at` (UTC) says which one this is"
        }
    )
    reason = fields.String(allow_none=True, metadata={"description": "As in a 409's `conflicts`"})
    detail = fields.String(allow_none=True)
    alternatives = fields.List(
        fields.Nested(AlternativeSchema), metadata={"description": "Nearest free times that day"}
    )


class PlanPreviewSchema(Schema):
    bookable = fields.Boolean(metadata={"description": "Every session is free: POST /plans would book it"})
    sessions = fields.List(fields.Nested(PreviewSessionSchema))


@blp.route("/preview", methods=["POST"])
@blp.arguments(CreatePlanRequest())
@blp.response(200, PlanPreviewSchema)
@blp.alt_response(422, description="The patient is not cleared for IMS, or a field is invalid")
def preview_plan(body: dict[str, Any]) -> PlanPreview:
    """What POST /plans would do with this body, booking and holding nothing.

    Every session is listed (time, practitioner, room); one that cannot be booked has the reason and the
    nearest alternatives a refused POST /plans reports. Pick replacements, then POST /plans with them as
    ``overrides``.
    """
    overrides = _overrides(body)
    with container().uow() as uow:
        return plans.preview_plan(uow, current_principal(), plans.CreatePlan(**body, overrides=overrides))


@blp.route("", methods=["GET"])
@blp.arguments(PlanQuery(), location="query")
@blp.response(200, PlanSchema(many=True))
@blp.paginate()
def list_plans(query: dict[str, Any], pagination_parameters: PaginationParameters) -> list[PlanView]:
    """Plans oldest first, each with its sessions and progress; a patient sees only their own."""
    with container().uow() as uow:
        items, pagination_parameters.item_count = plans.list_plans(
            uow, current_principal(), page_of(pagination_parameters), query["patient_id"], query["status"]
        )
        return items


@blp.route("/<uuid:plan_id>", methods=["GET"])
@blp.response(200, PlanSchema)
def get_plan(plan_id: uuid.UUID) -> PlanView:
    """The plan, its sessions and progress (e.g. 3 of 6 done)."""
    with container().uow() as uow:
        return plans.get_plan(uow, current_principal(), plan_id)


@blp.route("/<uuid:plan_id>/extend", methods=["POST"])
@blp.arguments(ExtendPlanRequest())
@blp.response(200, PlanSchema)
@blp.alt_response(409, description="Some added sessions collide: `conflicts` lists them with alternatives")
def extend_plan(body: dict[str, Any], plan_id: uuid.UUID) -> PlanView:
    overrides = _overrides(body)
    with container().uow() as uow:
        view = plans.extend_plan(
            uow,
            current_principal(),
            plans.ExtendPlan(
                plan_id=plan_id, sessions=body["sessions"], overrides=overrides, occurrence=body["occurrence"]
            ),
        )
        uow.commit()
        return view


@blp.route("/<uuid:plan_id>/cancel", methods=["POST"])
@blp.arguments(CancelPlanRequest())
@blp.response(200, PlanSchema)
def cancel_plan(body: dict[str, Any], plan_id: uuid.UUID) -> PlanView:
    """Cancel a session and every later one in the series ("this and following"), whatever their times.

    Cut after sessions that stay, the plan is shortened to them (``total_sessions``) and stays active;
    cut at its first session (or without ``from_appointment_id``), the plan is cancelled.
    """
    with container().uow() as uow:
        view = plans.cancel_plan(uow, current_principal(), plan_id, body["from_appointment_id"])
        uow.commit()
        return view
