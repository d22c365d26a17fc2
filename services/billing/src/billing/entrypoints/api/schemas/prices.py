"""The price list: a treatment type's price from a day on."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from billing.entrypoints.api.schemas.common import CURRENCY, MAX_CENTS


class SetPriceRequest(Schema):
    amount_cents = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_CENTS),
        metadata={"description": "Price in minor units of the currency (cents)", "example": 12000},
    )
    currency = fields.String(required=True, validate=CURRENCY, metadata={"example": "CAD"})
    effective_from = fields.Date(
        required=True, metadata={"description": "First day (clinic's calendar) the price applies"}
    )


class PriceEntrySchema(Schema):
    id = fields.UUID()
    clinic_id = fields.UUID()
    treatment_type_id = fields.UUID()
    effective_from = fields.Date()
    amount_cents = fields.Integer(attribute="price.cents")
    currency = fields.String(attribute="price.currency")
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")


class PriceQuery(Schema):
    treatment_type_id = fields.UUID(load_default=None, metadata={"description": "Only this treatment type"})
