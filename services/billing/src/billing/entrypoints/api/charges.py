"""Charges: events create them; staff may waive a fee; anyone may ask beforehand what a fee would come to.

Patients see only their own (others' are 404).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters

from billing.domain.billing_policy import FeeQuote
from billing.domain.model import Charge
from billing.entrypoints.api.context import BILLING_STAFF, container
from billing.entrypoints.api.schemas.charges import (
    ChargeQuery,
    ChargeSchema,
    FeeQuoteQuery,
    FeeQuoteSchema,
    WaiveRequest,
)
from billing.service_layer import charges, fee_quotes
from clinic_shared.web.auth import current_principal, require_roles
from clinic_shared.web.pagination import page_of
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint("charges", __name__, url_prefix="/charges", description="Charges for appointments")


@blp.route("", methods=["GET"])
@blp.arguments(ChargeQuery(), location="query")
@blp.response(200, ChargeSchema(many=True))
@blp.paginate()
@blp.alt_response(404, description="clinic_id names another clinic than the caller's (field `clinic_id`)")
def list_charges(query: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[Charge]:
    with container().uow() as uow:
        items, pagination_parameters.item_count = charges.list_charges(
            uow, current_principal(), page_of(pagination_parameters), charges.ChargeFilter(**query)
        )
        return items


@blp.route("/fee-quote", methods=["GET"])
@blp.arguments(FeeQuoteQuery(), location="query")
@blp.response(200, FeeQuoteSchema)
@blp.alt_response(404, description="Billing has no charge for this appointment of the caller's (yet)")
def quote_fee(query: dict[str, Any]) -> FeeQuote:
    """The fee a late cancellation (or a missed visit) of this appointment would bring, tax included, so a
    patient can be told before they cancel. Patients may ask about their own appointments only."""
    with container().uow() as uow:
        return fee_quotes.quote_fee(uow, current_principal(), query["appointment_id"], query["kind"])


@blp.route("/<uuid:charge_id>", methods=["GET"])
@blp.response(200, ChargeSchema)
def get_charge(charge_id: uuid.UUID) -> Charge:
    with container().uow() as uow:
        return charges.get_charge(uow, current_principal(), charge_id)


@blp.route("/<uuid:charge_id>/waive", methods=["POST"])
@blp.arguments(WaiveRequest())
@blp.response(200, ChargeSchema, description="The fee is waived and will not be invoiced")
@blp.alt_response(409, description="The fee is already invoiced or waived")
@blp.alt_response(422, description="Not a fee, or no reason given")
@require_roles(*BILLING_STAFF)
def waive_fee(body: dict[str, Any], charge_id: uuid.UUID) -> Charge:
    with container().uow() as uow:
        charge = charges.waive_fee(uow, current_principal(), charges.WaiveFee(charge_id=charge_id, **body))
        uow.commit()
        return charge
