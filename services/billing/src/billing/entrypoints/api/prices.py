"""Price lists: what each treatment type costs at a clinic from a date (set by billing clerks and admins)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields

from billing.domain.model import PriceListEntry
from billing.entrypoints.api.context import PRICE_SETTERS, STAFF_ROLES, container
from billing.entrypoints.api.schemas.prices import PriceEntrySchema, PriceQuery, SetPriceRequest
from billing.service_layer import prices
from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint("prices", __name__, url_prefix="/clinics", description="Price lists")


@blp.route("/<uuid:clinic_id>/prices/<uuid:treatment_type_id>", methods=["PUT"])
@blp.arguments(SetPriceRequest())
@blp.response(200, PriceEntrySchema, description="The entry for that date was replaced")
@blp.alt_response(201, schema=PriceEntrySchema, description="A new price list entry")
@blp.alt_response(422, description="A field is invalid, or the date is in the past for an existing price")
@require_roles(*PRICE_SETTERS)
def set_price(
    body: dict[str, Any], clinic_id: uuid.UUID, treatment_type_id: uuid.UUID
) -> tuple[PriceListEntry, int]:
    with container().uow() as uow:
        entry, created = prices.set_price(
            uow,
            prices.SetPrice(clinic_id=clinic_id, treatment_type_id=treatment_type_id, **body),
            current_principal(),
        )
        uow.commit()
        return entry, 201 if created else 200


@blp.route("/<uuid:clinic_id>/prices", methods=["GET"])
@blp.arguments(PriceQuery(), location="query")
@blp.response(200, PriceEntrySchema(many=True))
@blp.paginate()
@require_roles(*STAFF_ROLES)
def list_prices(
    query: dict[str, Any], clinic_id: uuid.UUID, pagination_parameters: PaginationParameters
) -> Sequence[PriceListEntry]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = prices.list_prices(
            uow, current_principal(), clinic_id, page_of(pagination_parameters), query["treatment_type_id"]
        )
        return items


class InForceQuery(Schema):
    on = fields.Date(
        load_default=None, metadata={"description": "The day (clinic's calendar); default: today there"}
    )


@blp.route("/<uuid:clinic_id>/prices-in-force", methods=["GET"])
@blp.arguments(InForceQuery(), location="query")
@blp.response(200, PriceEntrySchema(many=True))
def list_prices_in_force(query: dict[str, Any], clinic_id: uuid.UUID) -> Sequence[PriceListEntry]:
    """What each treatment type costs on a day, for patients (they read it before booking) and the
    clinic's staff (any clinic's for organisation-wide staff; another clinic's is 404 to clinic staff).

    One entry per priced treatment type; past and announced future prices stay in the staff's price list.
    """
    with container().uow() as uow:
        return prices.prices_in_force(uow, current_principal(), clinic_id, query["on"])
