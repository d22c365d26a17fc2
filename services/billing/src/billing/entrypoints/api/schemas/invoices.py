"""Invoices, their lines and document links, and the credit notes against them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from billing.domain.invoicing import InvoiceStatus, PayerKind
from billing.entrypoints.api.schemas.common import MAX_CENTS


class DraftInvoiceRequest(Schema):
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)


class SplitInvoicesRequest(DraftInvoiceRequest):
    coverage_id = fields.UUID(required=True, metadata={"description": "The third-party payer's coverage"})


class InvoiceLineSchema(Schema):
    id = fields.UUID()
    charge_id = fields.UUID(allow_none=True)
    payer_kind = fields.Enum(PayerKind, by_value=True)
    description = fields.String()
    service_date = fields.Date()
    practitioner_id = fields.UUID(allow_none=True)
    treatment_type_id = fields.UUID(allow_none=True)
    amount_cents = fields.Integer(attribute="amount.cents")
    tax_rate_bp = fields.Integer()
    tax_cents = fields.Integer(attribute="tax.cents")


class InvoiceSchema(Schema):
    id = fields.UUID()
    number = fields.String(
        allow_none=True, metadata={"description": "Assigned when issued, e.g. VAN-2026-000123"}
    )
    status = fields.Enum(InvoiceStatus, by_value=True, metadata={"description": "FHIR Invoice.status"})
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    payer_kind = fields.Enum(
        PayerKind, by_value=True, metadata={"description": "Who the invoice is addressed to"}
    )
    coverage_id = fields.UUID(allow_none=True)
    currency = fields.String()
    lines = fields.List(fields.Nested(InvoiceLineSchema))
    subtotal_cents = fields.Integer(attribute="subtotal.cents")
    tax_cents = fields.Integer(attribute="tax.cents")
    credited_cents = fields.Integer()
    total_cents = fields.Integer(attribute="total.cents", metadata={"description": "lines + tax - credits"})
    paid_cents = fields.Integer()
    balance_cents = fields.Integer(attribute="balance.cents")
    issued_at = fields.AwareDateTime(format="iso", allow_none=True)
    due_date = fields.Date(allow_none=True)
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")


class DocumentLinkSchema(Schema):
    url = fields.String(
        metadata={
            "description": "Opens the invoice's PDF without signing in, until expires_at; share it only with "
            "the patient",
            "example": "https://billing.example/documents/invoice.v1.eyJpIjoi...In0.3q2-7w",
        }
    )
    expires_at = fields.AwareDateTime(format="iso")


class InvoiceQuery(Schema):
    clinic_id = fields.UUID(load_default=None)
    patient_id = fields.UUID(load_default=None)
    status = fields.Enum(InvoiceStatus, by_value=True, load_default=None)


class CreditNoteRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    amount_cents = fields.Integer(
        load_default=None,
        strict=True,
        validate=validate.Range(min=1, max=MAX_CENTS),
        metadata={"description": "Partial credit (tax included); omit with void=true"},
    )
    void = fields.Boolean(load_default=False, metadata={"description": "Credit the whole unpaid total"})


class CreditNoteLineSchema(Schema):
    invoice_line_id = fields.UUID(metadata={"description": "The invoice line this takes back part of"})
    amount_cents = fields.Integer(attribute="amount.cents", metadata={"description": "Before tax"})
    tax_cents = fields.Integer(attribute="tax.cents")


class CreditNoteSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    invoice_id = fields.UUID()
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    amount_cents = fields.Integer(attribute="amount.cents", metadata={"description": "Tax included"})
    currency = fields.String(attribute="amount.currency")
    subtotal_cents = fields.Integer(attribute="subtotal.cents", metadata={"description": "Before tax"})
    tax_cents = fields.Integer(attribute="tax.cents")
    lines = fields.List(
        fields.Nested(CreditNoteLineSchema),
        metadata={"description": "The credit spread over the invoice's lines in proportion to what is left"},
    )
    reason = fields.String()
    voids_invoice = fields.Boolean()
    issued_at = fields.AwareDateTime(format="iso")
    issued_by = fields.UUID()
