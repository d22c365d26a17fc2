"""Request and response schemas: they validate input and generate the OpenAPI document.

Unknown fields in a request body are rejected (marshmallow's default), so nothing can be mass-assigned.
Money travels as integer minor units (``amount_cents``) beside an ISO 4217 ``currency``, never as a float.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

from billing.domain.invoicing import FeeMode, InvoiceStatus, PayerKind, PaymentMethod
from billing.domain.model import Charge, ChargeKind, ChargeStatus

CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 currency code such as CAD")
# A ceiling far above any treatment price that keeps amounts well inside 64-bit integers.
MAX_CENTS = 100_000_000
BASIS_POINTS = validate.Range(min=0, max=10_000)


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
    tax_rate_bp = fields.Integer(metadata={"description": "Tax in basis points (500 = 5%)"})
    invoice_id = fields.UUID(allow_none=True)
    waived_reason = fields.String(allow_none=True)
    waived_by = fields.UUID(allow_none=True)
    waived_at = fields.AwareDateTime(format="iso", allow_none=True)
    package_id = fields.UUID(allow_none=True, metadata={"description": "The package a prepaid session drew"})
    aborted_at = fields.AwareDateTime(format="iso", allow_none=True)
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")


class ChargeQuery(Schema):
    patient_id = fields.UUID(load_default=None, metadata={"description": "Staff only: filter by patient"})
    appointment_id = fields.UUID(load_default=None)
    clinic_id = fields.UUID(load_default=None)
    status = fields.Enum(ChargeStatus, by_value=True, load_default=None)
    needs_price = fields.Boolean(load_default=None, metadata={"description": "Only charges without a price"})


class FeeQuoteQuery(Schema):
    appointment_id = fields.UUID(required=True)
    kind = fields.Enum(
        ChargeKind,
        by_value=True,
        load_default=ChargeKind.LATE_CANCEL_FEE,
        validate=validate.OneOf([kind for kind in ChargeKind if kind.is_fee], error="must be a fee kind"),
        metadata={"description": "late_cancel_fee (default) or no_show_fee"},
    )


def _cents(name: str) -> fields.Function:
    """An optional Money attribute of a quote as integer cents (null when there is no amount)."""

    def cents(quote: Any) -> Any:
        money = getattr(quote, name)
        return money.cents if money is not None else None

    return fields.Function(cents, metadata={"type": "integer", "nullable": True})


class FeeQuoteSchema(Schema):
    """What the fee would come to under the clinic's current policy; nothing is charged by asking.

    Amounts are null when the clinic charges no such fee, or when the fee is a percentage of a visit that
    has no price yet.
    """

    kind = fields.Enum(ChargeKind, by_value=True)
    charged = fields.Boolean(metadata={"description": "false: the clinic charges no such fee"})
    currency = fields.String(allow_none=True)
    amount_cents = _cents("amount")
    tax_cents = _cents("tax")
    total_cents = _cents("total")


# --- billing policy --------------------------------------------------------------------------------------


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


class WaiveRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


# --- invoices --------------------------------------------------------------------------------------------


class DraftInvoiceRequest(Schema):
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)


class SplitInvoicesRequest(DraftInvoiceRequest):
    coverage_id = fields.UUID(required=True, metadata={"description": "The third-party payer's coverage"})


class CoverageSchema(Schema):
    """A WorkSafeBC claim, an ICBC claim or an extended health plan; required fields depend on the payer."""

    id = fields.UUID(dump_only=True)
    patient_id = fields.UUID(dump_only=True)
    clinic_id = fields.UUID(required=True)
    payer_kind = fields.Enum(
        PayerKind,
        by_value=True,
        required=True,
        metadata={"description": "worksafebc, icbc or extended_health"},
    )
    currency = fields.String(load_default="CAD", validate=CURRENCY)
    claim_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    date_of_injury = fields.Date(load_default=None, allow_none=True)
    employer_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    insurer_fee_cents = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_CENTS),
        metadata={"description": "ICBC: what the insurer pays per visit; the patient pays the excess"},
    )
    coverage_bp = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=BASIS_POINTS,
        metadata={"description": "Extended health: share covered (8000 = 80%)"},
    )
    per_visit_max_cents = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=MAX_CENTS)
    )
    annual_max_cents = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=MAX_CENTS)
    )
    policy_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    created_at = fields.AwareDateTime(format="iso", dump_only=True)


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


# --- payments --------------------------------------------------------------------------------------------


class IdempotencyHeaders(Schema):
    """Every POST that moves money repeats safely under the same key (any unique string, e.g. a UUID)."""

    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key", required=True, validate=validate.Length(min=1, max=255)
    )


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


# --- reports ---------------------------------------------------------------------------------------------


class OutstandingQuery(Schema):
    clinic_id = fields.UUID(required=True)
    as_of = fields.Date(
        load_default=None, metadata={"description": "Age balances as of this day (default today)"}
    )


class PeriodQuery(Schema):
    clinic_id = fields.UUID(required=True)
    first_day = fields.Date(
        required=True, data_key="from", metadata={"description": "First day (clinic's calendar)"}
    )
    last_day = fields.Date(required=True, data_key="to", metadata={"description": "Last day, inclusive"})


class AgingRowSchema(Schema):
    patient_id = fields.UUID()
    payer_kind = fields.String()
    days_0_30_cents = fields.Integer(attribute="days_0_30")
    days_31_60_cents = fields.Integer(attribute="days_31_60")
    days_61_90_cents = fields.Integer(attribute="days_61_90")
    days_over_90_cents = fields.Integer(attribute="days_over_90")
    total_cents = fields.Integer(attribute="total")


class DailyPaymentsSchema(Schema):
    day = fields.Date()
    method = fields.String()
    count = fields.Integer()
    received_cents = fields.Integer()
    refunded_cents = fields.Integer()
    net_cents = fields.Integer()


class RevenueRowSchema(Schema):
    practitioner_id = fields.UUID(attribute="row.practitioner_id", allow_none=True)
    practitioner_name = fields.String()
    treatment_type_id = fields.UUID(attribute="row.treatment_type_id", allow_none=True)
    treatment_name = fields.String()
    lines = fields.Integer(attribute="row.lines", metadata={"description": "Invoice lines billed"})
    invoiced_cents = fields.Integer(
        attribute="row.invoiced_cents", metadata={"description": "Issued invoice lines, before tax"}
    )
    credited_cents = fields.Integer(
        attribute="row.credited_cents",
        metadata={"description": "What credit notes took back of those lines, before tax"},
    )
    amount_cents = fields.Integer(
        attribute="row.amount_cents",
        metadata={"description": "Revenue: invoiced_cents - credited_cents (voided invoices net to 0)"},
    )


# --- packages --------------------------------------------------------------------------------------------


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


# --- privacy ---------------------------------------------------------------------------------------------


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
