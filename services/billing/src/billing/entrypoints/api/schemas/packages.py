"""Prepaid packages of sessions."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from billing.entrypoints.api.schemas.common import CURRENCY, MAX_CENTS


class SellPackageRequest(Schema):
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    sessions = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))
    amount_cents = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_CENTS))
    currency = fields.String(required=True, validate=CURRENCY)
    plan_id = fields.UUID(load_default=None, metadata={"description": "Only sessions of this treatment plan"})


class PackageSchema(Schema):
    id = fields.UUID()
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
