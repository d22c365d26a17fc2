"""Request and response schemas: they validate input and generate the OpenAPI document.

Unknown fields in a request body are rejected (marshmallow's default), so nothing can be mass-assigned.
Money travels as integer minor units (``amount_cents``) beside an ISO 4217 ``currency``, never as a float.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from billing.domain.model import Charge, ChargeKind, ChargeStatus

CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 currency code such as CAD")
# A ceiling far above any treatment price that keeps amounts well inside 64-bit integers.
MAX_CENTS = 100_000_000


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


def _amount_cents(charge: Charge) -> Any:
    return charge.amount.cents if charge.amount is not None else None


def _currency(charge: Charge) -> Any:
    return charge.amount.currency if charge.amount is not None else None


class ChargeSchema(Schema):
    id = fields.UUID()
    kind = fields.Enum(ChargeKind, by_value=True)
    status = fields.Enum(ChargeStatus, by_value=True)
    appointment_id = fields.UUID()
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    practitioner_id = fields.UUID()
    treatment_type_id = fields.UUID()
    starts_at = fields.AwareDateTime(format="iso")
    service_date = fields.Date(metadata={"description": "The appointment's date in the clinic's calendar"})
    amount_cents = fields.Function(
        _amount_cents,
        metadata={"type": "integer", "nullable": True, "description": "null while no price is on file"},
    )
    currency = fields.Function(_currency, metadata={"type": "string", "nullable": True})
    needs_price = fields.Boolean(metadata={"description": "No price was on file for the service date"})
    late_cancellation = fields.Boolean()
    aborted_at = fields.AwareDateTime(format="iso", allow_none=True)
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")


class ChargeQuery(Schema):
    patient_id = fields.UUID(load_default=None, metadata={"description": "Staff only: filter by patient"})
    appointment_id = fields.UUID(load_default=None)
    clinic_id = fields.UUID(load_default=None)
    status = fields.Enum(ChargeStatus, by_value=True, load_default=None)
    needs_price = fields.Boolean(load_default=None, metadata={"description": "Only charges without a price"})
