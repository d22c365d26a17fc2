"""Prepaid packages of sessions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from billing.domain.packages import NAME_MAX
from billing.entrypoints.api.schemas.common import CURRENCY, MAX_CENTS


class SellPackageRequest(Schema):
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    sessions = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))
    amount_cents = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_CENTS))
    currency = fields.String(required=True, validate=CURRENCY)
    plan_id = fields.UUID(load_default=None, metadata={"description": "Only sessions of this treatment plan"})
    name = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=NAME_MAX),
        metadata={"description": "As sold, e.g. 'IMS 6-pack'; by default the treatment and the sessions"},
    )
    expires_on = fields.Date(
        load_default=None,
        metadata={"description": "The last day (the clinic's calendar) a visit may use it; none: no expiry"},
    )


class PackageSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    treatment_type_id = fields.UUID()
    plan_id = fields.UUID(allow_none=True)
    sessions_total = fields.Integer()
    sessions_used = fields.Integer()
    sessions_left = fields.Integer()
    amount_cents = fields.Integer(attribute="price.cents")
    currency = fields.String(attribute="price.currency")
    invoice_id = fields.UUID(allow_none=True, metadata={"description": "The draft invoice for the package"})
    sold_at = fields.AwareDateTime(format="iso")
    expires_on = fields.Date(allow_none=True, metadata={"description": "Its last day of use, if any"})
