"""A clinic's billing policy and tax registration, and the audit trail."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from billing.domain.billing_policy import FeeMode
from billing.entrypoints.api.schemas.common import BASIS_POINTS, CURRENCY, MAX_CENTS


class BillingPolicySchema(Schema):
    """A clinic's fee and tax policy; fee values are cents (fixed) or basis points of the visit (percent)."""

    clinic_id = fields.UUID(dump_only=True)
    currency = fields.String(required=True, validate=CURRENCY, metadata={"example": "CAD"})
    late_cancel_fee_mode = fields.Enum(
        FeeMode, by_value=True, load_default=None, allow_none=True, metadata={"description": "null: no fee"}
    )
    late_cancel_fee_value = fields.Integer(
        load_default=0,
        strict=True,
        validate=validate.Range(min=0, max=MAX_CENTS),
        metadata={"description": "cents when fixed, basis points (5000 = 50%) when percent"},
    )
    no_show_fee_mode = fields.Enum(FeeMode, by_value=True, load_default=None, allow_none=True)
    no_show_fee_value = fields.Integer(
        load_default=0, strict=True, validate=validate.Range(min=0, max=MAX_CENTS)
    )
    fee_tax_rate_bp = fields.Integer(
        load_default=0, strict=True, validate=BASIS_POINTS, metadata={"description": "Tax on fees (500 = 5%)"}
    )
    treatment_tax_rate_bp = fields.Integer(
        load_default=0,
        strict=True,
        validate=BASIS_POINTS,
        metadata={"description": "Tax on treatments; physiotherapy is exempt (0) by default"},
    )
    payment_terms_days = fields.Integer(load_default=30, strict=True, validate=validate.Range(min=0, max=365))
    updated_at = fields.AwareDateTime(format="iso", dump_only=True)


class TaxRegistrationSchema(Schema):
    """The clinic's GST/HST registration number, printed on its invoices, receipts and credit notes."""

    clinic_id = fields.UUID(dump_only=True)
    gst_hst_number = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={
            "description": "9 digits, RT and 4 digits (spaces and hyphens are dropped); null: not registered",
            "example": "123456789RT0001",
        },
    )
    updated_at = fields.AwareDateTime(format="iso", dump_only=True, allow_none=True)


class AuditQuery(Schema):
    entity_id = fields.UUID(load_default=None)
    clinic_id = fields.UUID(
        load_default=None,
        metadata={"description": "Entries about this clinic and its records (clinic-scoped staff: theirs)"},
    )


class AuditEntrySchema(Schema):
    id = fields.UUID()
    occurred_at = fields.AwareDateTime(format="iso")
    actor_id = fields.UUID(
        allow_none=True, metadata={"description": "Account id; null for scheduling's events"}
    )
    entity_type = fields.String()
    entity_id = fields.UUID()
    action = fields.String()
    details = fields.Dict()
