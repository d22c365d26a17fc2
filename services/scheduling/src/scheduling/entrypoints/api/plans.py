"""Treatment plans: a series of IMS sessions booked all or nothing, its progress, extension and cancellation.

A 409 answer to a plan request carries ``conflicts``: each session that cannot be booked, why, and the
nearest alternatives; nothing is held, and the client re-submits with ``overrides``.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from clinic_shared.web.auth import current_principal
from scheduling.entrypoints.api import schemas
from scheduling.entrypoints.api.context import container, page_of
from scheduling.service_layer import plans
from scheduling.service_layer.plans import PlanView, SessionOverride

blp = Blueprint("plans", __name__, url_prefix="/plans", description="Treatment plans")


def _overrides(body: dict[str, Any]) -> tuple[SessionOverride, ...]:
    return tuple(SessionOverride(**o) for o in body.pop("overrides"))


@blp.route("", methods=["POST"])
@blp.arguments(schemas.CreatePlanRequest())
@blp.response(201, schemas.PlanSchema)
@blp.alt_response(409, description="Some sessions collide: `conflicts` lists them with alternatives")
@blp.alt_response(422, description="The patient is not cleared for IMS, or a field is invalid")
def create_plan(body: dict[str, Any]) -> PlanView:
    overrides = _overrides(body)
    with container().uow() as uow:
        return plans.create_plan(uow, current_principal(), plans.CreatePlan(**body, overrides=overrides))


@blp.route("", methods=["GET"])
@blp.arguments(schemas.PlanQuery(), location="query")
@blp.response(200, schemas.PlanSchema(many=True))
@blp.paginate()
def list_plans(query: dict[str, Any], pagination_parameters: PaginationParameters) -> list[PlanView]:
    """Plans oldest first, each with its sessions and progress; a patient sees only their own."""
    with container().uow() as uow:
        items, pagination_parameters.item_count = plans.list_plans(
            uow, current_principal(), page_of(pagination_parameters), query["patient_id"], query["status"]
        )
        return items


@blp.route("/<uuid:plan_id>", methods=["GET"])
@blp.response(200, schemas.PlanSchema)
def get_plan(plan_id: uuid.UUID) -> PlanView:
    """The plan, its sessions and progress (e.g. 3 of 6 done)."""
    with container().uow() as uow:
        return plans.get_plan(uow, current_principal(), plan_id)


@blp.route("/<uuid:plan_id>/extend", methods=["POST"])
@blp.arguments(schemas.ExtendPlanRequest())
@blp.response(200, schemas.PlanSchema)
@blp.alt_response(409, description="Some added sessions collide: `conflicts` lists them with alternatives")
def extend_plan(body: dict[str, Any], plan_id: uuid.UUID) -> PlanView:
    overrides = _overrides(body)
    with container().uow() as uow:
        return plans.extend_plan(
            uow,
            current_principal(),
            plans.ExtendPlan(plan_id=plan_id, sessions=body["sessions"], overrides=overrides),
        )


@blp.route("/<uuid:plan_id>/cancel", methods=["POST"])
@blp.arguments(schemas.CancelPlanRequest())
@blp.response(200, schemas.PlanSchema)
def cancel_plan(body: dict[str, Any], plan_id: uuid.UUID) -> PlanView:
    """Cancel a session and every later one ("this and following")."""
    with container().uow() as uow:
        return plans.cancel_plan(uow, current_principal(), plan_id, body["from_appointment_id"])
