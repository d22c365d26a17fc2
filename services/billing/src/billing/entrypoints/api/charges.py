"""Charges: read-only here (events create them). Patients see only their own (others' are 404)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from billing.domain.model import Charge
from billing.entrypoints.api import schemas
from billing.entrypoints.api.context import container, page_of
from billing.service_layer import services
from clinic_shared.web.auth import current_principal

blp = Blueprint("charges", __name__, url_prefix="/charges", description="Charges for appointments")


@blp.route("", methods=["GET"])
@blp.arguments(schemas.ChargeQuery, location="query")
@blp.response(200, schemas.ChargeSchema(many=True))
@blp.paginate()
def list_charges(query: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[Charge]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = services.list_charges(
            uow, current_principal(), page_of(pagination_parameters), services.ChargeFilter(**query)
        )
        return items


@blp.route("/<uuid:charge_id>", methods=["GET"])
@blp.response(200, schemas.ChargeSchema)
def get_charge(charge_id: uuid.UUID) -> Charge:
    with container().uow() as uow:
        return services.get_charge(uow, current_principal(), charge_id)
