"""The delivery log: every message owed to a patient and what happened to it (front desk and admins, each
seeing their clinic's; organisation-wide ones every clinic's)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters

from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint
from notifications.entrypoints.api import schemas
from notifications.entrypoints.api.context import container
from notifications.service_layer import queries

blp = Blueprint("deliveries", __name__, url_prefix="/deliveries", description="The delivery log")


@blp.route("", methods=["GET"])
@blp.arguments(schemas.DeliveryQuery(), location="query")
@blp.response(200, schemas.DeliverySchema(many=True))
@blp.alt_response(404, description="clinic_id names another clinic than the caller's")
@blp.paginate()
@require_roles(*queries.STAFF_READERS)
def list_deliveries(
    query: dict[str, Any], pagination_parameters: PaginationParameters
) -> Sequence[queries.LoggedDelivery]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = queries.list_deliveries(
            uow, current_principal(), page_of(pagination_parameters), **query
        )
        return items


@blp.route("/<uuid:delivery_id>", methods=["GET"])
@blp.response(200, schemas.DeliverySchema)
@blp.alt_response(404, description="No such delivery, or another clinic's")
@require_roles(*queries.STAFF_READERS)
def get_delivery(delivery_id: uuid.UUID) -> queries.LoggedDelivery:
    with container().uow() as uow:
        return queries.get_delivery(uow, current_principal(), delivery_id)
