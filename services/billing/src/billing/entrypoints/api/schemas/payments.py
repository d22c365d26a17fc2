"""Payments with their allocations, refunds, and a patient's credit and its applications."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from billing.domain.payments import PaymentMethod
from billing.entrypoints.api.schemas.common import CURRENCY, MAX_CENTS


class AllocationRequestSchema(Schema):
    invoice_id = fields.UUID(required=True)
    amount_cents = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_CENTS))


class PaymentRequest(Schema):
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    amount_cents = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_CENTS))
    currency = fields.String(required=True, validate=CURRENCY)
    method = fields.Enum(PaymentMethod, by_value=True, required=True)
    received_at = fields.AwareDateTime(format="iso", load_default=None)
    allocations = fields.List(
        fields.Nested(AllocationRequestSchema),
        load_default=list,
        metadata={"description": "What is not allocated becomes the patient's credit"},
    )


class AllocationSchema(Schema):
    invoice_id = fields.UUID()
    amount_cents = fields.Integer(attribute="amount.cents")


class PaymentSchema(Schema):
    id = fields.UUID()
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    method = fields.Enum(PaymentMethod, by_value=True)
    amount_cents = fields.Integer(attribute="amount.cents")
    currency = fields.String(attribute="amount.currency")
    received_at = fields.AwareDateTime(format="iso")
    recorded_by = fields.UUID()
    unallocated_cents = fields.Integer(metadata={"description": "The patient's credit from this payment"})
    refund_of = fields.UUID(
        allow_none=True, metadata={"description": "Set on a refund: the original payment"}
    )
    reason = fields.String(allow_none=True)
    allocations = fields.List(fields.Nested(AllocationSchema))


class RefundRequest(Schema):
    amount_cents = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_CENTS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class PaymentQuery(Schema):
    patient_id = fields.UUID(load_default=None)
    clinic_id = fields.UUID(load_default=None)


class CreditQuery(Schema):
    clinic_id = fields.UUID(required=True)


class CreditSchema(Schema):
    patient_id = fields.UUID()
    clinic_id = fields.UUID()
    credit_cents = fields.Integer()
    currency = fields.String()


class CreditApplicationRequest(Schema):
    clinic_id = fields.UUID(required=True)
    currency = fields.String(required=True, validate=CURRENCY)
    allocations = fields.List(
        fields.Nested(AllocationRequestSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "Issued invoices of this patient at this clinic, and how much credit each"},
    )


class CreditAllocationSchema(Schema):
    invoice_id = fields.UUID()
    amount_cents = fields.Integer(attribute="amount.cents")
    payment_id = fields.UUID(metadata={"description": "The earlier payment whose unallocated money this is"})


class CreditApplicationSchema(Schema):
    id = fields.UUID()
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    amount_cents = fields.Integer(attribute="amount.cents")
    currency = fields.String(attribute="amount.currency")
    applied_at = fields.AwareDateTime(format="iso")
    applied_by = fields.UUID()
    allocations = fields.List(fields.Nested(CreditAllocationSchema))
