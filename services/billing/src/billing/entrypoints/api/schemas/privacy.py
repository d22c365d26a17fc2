"""A patient's own copy of everything billing holds about them."""

from __future__ import annotations

from marshmallow import Schema, fields

from billing.entrypoints.api.schemas.charges import ChargeSchema
from billing.entrypoints.api.schemas.coverages import CoverageSchema
from billing.entrypoints.api.schemas.invoices import CreditNoteSchema, InvoiceSchema
from billing.entrypoints.api.schemas.packages import PackageSchema
from billing.entrypoints.api.schemas.payments import CreditApplicationSchema, CreditSchema, PaymentSchema


class PatientSchema(Schema):
    """Billing's copy of the patient's names and contact, as scheduling last sent them."""

    id = fields.UUID()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    phone = fields.String(allow_none=True)
    language = fields.String()
    as_of = fields.AwareDateTime(format="iso", metadata={"description": "When scheduling last changed it"})


class PatientExportSchema(Schema):
    """Everything billing holds about one patient (the patient's own copy); a clinic's admin gets that
    clinic's records only."""

    patient_id = fields.UUID()
    patient = fields.Nested(
        PatientSchema,
        allow_none=True,
        metadata={"description": "null while the copy has not reached billing"},
    )
    charges = fields.List(fields.Nested(ChargeSchema))
    invoices = fields.List(
        fields.Nested(InvoiceSchema), metadata={"description": "Issued invoices (not drafts), with lines"}
    )
    credit_notes = fields.List(fields.Nested(CreditNoteSchema))
    payments = fields.List(
        fields.Nested(PaymentSchema),
        metadata={"description": "Payments and refunds (refund_of set), with their allocations"},
    )
    credit_applications = fields.List(fields.Nested(CreditApplicationSchema))
    credit_balances = fields.List(
        fields.Nested(CreditSchema), metadata={"description": "Unapplied credit at each clinic paid at"}
    )
    coverages = fields.List(fields.Nested(CoverageSchema))
    packages = fields.List(fields.Nested(PackageSchema))
