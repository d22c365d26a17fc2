"""Billing's tables, mapped imperatively onto the plain domain classes.

The copies of scheduling's records have no foreign keys: their events may arrive in any order. Money is
two columns (integer minor units and an ISO currency) mapped onto the Money value object. One charge per
(appointment, kind) is a unique constraint: the database's own guard against a duplicated booking.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import composite, registry, relationship

from billing.domain.audit import AuditEntry
from billing.domain.billing_policy import BillingPolicy, FeeMode
from billing.domain.coverages import Coverage
from billing.domain.credit_notes import CreditNote, CreditNoteLine
from billing.domain.invoicing import Invoice, InvoiceLine, InvoiceStatus, PayerKind
from billing.domain.model import (
    Charge,
    ChargeKind,
    ChargeStatus,
    Clinic,
    Patient,
    Practitioner,
    PriceListEntry,
    TreatmentType,
)
from billing.domain.money import Money
from billing.domain.packages import Package
from billing.domain.payments import Allocation, CreditApplication, Payment, PaymentMethod
from billing.domain.tax_registration import TaxRegistration
from clinic_shared.db import UTCDateTime, service_metadata, str_enum
from clinic_shared.messaging.tables import define_inbox_table, define_outbox_table

metadata = service_metadata()


clinics = Table(
    "clinics",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("address", Text, nullable=False),
    Column("phone", String(40), nullable=False),
    Column("email", String(254), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

practitioners = Table(
    "practitioners",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False, index=True),
    Column("display_name", String(200), nullable=False),
    Column("registration_number", String(50), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

treatment_types = Table(
    "treatment_types",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False, index=True),
    Column("code", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

patients = Table(
    "patients",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(40), nullable=True),
    Column("language", String(2), nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
)

price_list_entries = Table(
    "price_list_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False),
    Column("treatment_type_id", Uuid, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "clinic_id", "treatment_type_id", "effective_from", name="uq_price_list_entries_effective_date"
    ),
    CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
)

charges = Table(
    "charges",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", str_enum(ChargeKind, "charge_kind"), nullable=False),
    Column("appointment_id", Uuid, nullable=False),
    Column("clinic_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("practitioner_id", Uuid, nullable=False),
    Column("treatment_type_id", Uuid, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("service_date", Date, nullable=False),
    Column("amount_cents", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("status", str_enum(ChargeStatus, "charge_status"), nullable=False),
    Column("appointment_sequence", Integer, nullable=False),
    Column("late_cancellation", Boolean, nullable=False),
    Column("aborted_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("tax_rate_bp", Integer, nullable=False, server_default="0"),
    Column("invoice_id", Uuid, nullable=True, index=True),
    Column("waived_reason", Text, nullable=True),
    Column("waived_by", Uuid, nullable=True),
    Column("waived_at", UTCDateTime, nullable=True),
    Column("package_id", Uuid, nullable=True),
    UniqueConstraint("appointment_id", "kind", name="uq_charges_appointment_kind"),
    CheckConstraint("(amount_cents IS NULL) = (currency IS NULL)", name="amount_has_currency"),
    Index("ix_charges_patient_time", "patient_id", "starts_at"),
    Index("ix_charges_awaiting_price", "clinic_id", "treatment_type_id", "service_date"),
    Index("ix_charges_status", "status"),
)

billing_policies = Table(
    "billing_policies",
    metadata,
    Column("clinic_id", Uuid, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("late_cancel_fee_mode", str_enum(FeeMode, "fee_mode"), nullable=True),
    Column("late_cancel_fee_value", BigInteger, nullable=False),
    Column("no_show_fee_mode", str_enum(FeeMode, "fee_mode"), nullable=True),
    Column("no_show_fee_value", BigInteger, nullable=False),
    Column("fee_tax_rate_bp", Integer, nullable=False),
    Column("treatment_tax_rate_bp", Integer, nullable=False),
    Column("payment_terms_days", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Billing's own record of a clinic's GST/HST registration (not a copy of scheduling's clinic).
clinic_tax_registrations = Table(
    "clinic_tax_registrations",
    metadata,
    Column("clinic_id", Uuid, primary_key=True),
    Column("gst_hst_number", String(15), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", Uuid, nullable=False),
)

packages = Table(
    "packages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("treatment_type_id", Uuid, nullable=False),
    Column("plan_id", Uuid, nullable=True),
    Column("sessions_total", Integer, nullable=False),
    Column("sessions_used", Integer, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("invoice_id", Uuid, nullable=True),
    Column("sold_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("name", Text, nullable=False),
    Column("expires_on", Date, nullable=True),
    CheckConstraint("sessions_used >= 0 AND sessions_used <= sessions_total", name="sessions_within_total"),
    Index("ix_packages_patient", "patient_id", "clinic_id", "treatment_type_id"),
)

coverages = Table(
    "coverages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False, index=True),
    Column("payer_kind", str_enum(PayerKind, "payer_kind"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("claim_number", String(40), nullable=True),
    Column("date_of_injury", Date, nullable=True),
    Column("employer_name", String(200), nullable=True),
    Column("insurer_fee_cents", BigInteger, nullable=True),
    Column("coverage_bp", Integer, nullable=True),
    Column("per_visit_max_cents", BigInteger, nullable=True),
    Column("annual_max_cents", BigInteger, nullable=True),
    Column("policy_number", String(60), nullable=True),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("payer_kind", str_enum(PayerKind, "payer_kind"), nullable=False),
    Column("coverage_id", Uuid, ForeignKey("coverages.id"), nullable=True, index=True),
    Column("currency", String(3), nullable=False),
    Column("status", str_enum(InvoiceStatus, "invoice_status"), nullable=False),
    Column("number", String(40), nullable=True),
    Column("issued_at", UTCDateTime, nullable=True),
    Column("issued_by", Uuid, nullable=True),
    Column("due_date", Date, nullable=True),
    Column("credited_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("clinic_id", "number", name="uq_invoices_clinic_number"),
    CheckConstraint("credited_cents >= 0 AND paid_cents >= 0", name="settled_not_negative"),
    Index("ix_invoices_patient", "patient_id", "created_at"),
    Index("ix_invoices_clinic_status", "clinic_id", "status"),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("invoice_id", Uuid, ForeignKey("invoices.id"), nullable=False, index=True),
    Column("charge_id", Uuid, nullable=True),
    Column("payer_kind", str_enum(PayerKind, "payer_kind"), nullable=False),
    Column("description", String(200), nullable=False),
    Column("service_date", Date, nullable=False),
    Column("practitioner_id", Uuid, nullable=True),
    Column("treatment_type_id", Uuid, nullable=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("tax_rate_bp", Integer, nullable=False),
    Column("tax_cents", BigInteger, nullable=False),
    Column("position", Integer, nullable=False),
    CheckConstraint("amount_cents >= 0 AND tax_cents >= 0", name="amounts_not_negative"),
    # A charge is billed once per payer: the database's guard against billing it twice.
    UniqueConstraint("charge_id", "payer_kind", name="uq_invoice_lines_charge_payer"),
)

# One row per (clinic, series, year), locked FOR UPDATE while a number is taken: gapless, unlike a sequence.
number_counters = Table(
    "number_counters",
    metadata,
    Column("clinic_id", Uuid, primary_key=True),
    Column("series", String(10), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

credit_notes = Table(
    "credit_notes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("invoice_id", Uuid, ForeignKey("invoices.id"), nullable=False, index=True),
    Column("clinic_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("number", String(40), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", Text, nullable=False),
    Column("voids_invoice", Boolean, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("issued_by", Uuid, nullable=False),
    UniqueConstraint("clinic_id", "number", name="uq_credit_notes_clinic_number"),
    CheckConstraint("amount_cents > 0", name="amount_positive"),
)

# What each credit note takes back of each invoice line, before tax and in tax: what revenue deducts.
credit_note_lines = Table(
    "credit_note_lines",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("credit_note_id", Uuid, ForeignKey("credit_notes.id"), nullable=False, index=True),
    Column("invoice_line_id", Uuid, ForeignKey("invoice_lines.id"), nullable=False, index=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("tax_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("position", Integer, nullable=False),
    CheckConstraint(
        "amount_cents >= 0 AND tax_cents >= 0 AND amount_cents + tax_cents > 0", name="amounts_valid"
    ),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("method", str_enum(PaymentMethod, "payment_method"), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("recorded_by", Uuid, nullable=False),
    Column("unallocated_cents", BigInteger, nullable=False),
    Column("refund_of", Uuid, ForeignKey("payments.id"), nullable=True, index=True),
    Column("reason", Text, nullable=True),
    CheckConstraint("amount_cents > 0 AND unallocated_cents >= 0", name="amounts_valid"),
    Index("ix_payments_patient", "patient_id", "received_at"),
)

# Patient credit applied to invoices; its allocations draw on the payments that brought the money in.
credit_applications = Table(
    "credit_applications",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("clinic_id", Uuid, nullable=False),
    Column("patient_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
    Column("applied_by", Uuid, nullable=False),
    CheckConstraint("amount_cents > 0", name="amount_positive"),
    Index("ix_credit_applications_patient", "patient_id", "applied_at"),
)

allocations = Table(
    "allocations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("payment_id", Uuid, ForeignKey("payments.id"), nullable=False, index=True),
    Column("invoice_id", Uuid, ForeignKey("invoices.id"), nullable=False, index=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("credit_application_id", Uuid, ForeignKey("credit_applications.id"), nullable=True, index=True),
    CheckConstraint("amount_cents > 0", name="amount_positive"),
)

# A request's Idempotency-Key, stored in the transaction of its effect with the response it produced.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", Uuid, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The purge deletes by age in batches.
    Index("ix_idempotency_keys_created_at", "created_at"),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor_id", Uuid, nullable=True),
    Column("entity_type", String(40), nullable=False),
    Column("entity_id", Uuid, nullable=False),
    Column("action", String(60), nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_audit_entries_entity", "entity_id", "occurred_at"),
)

outbox = define_outbox_table(metadata)
inbox = define_inbox_table(metadata)

CHARGE_BUSINESS_KEY = "uq_charges_appointment_kind"

mapper_registry = registry()
_mapped = False


def _no_money(cents: int | None, currency: str | None) -> bool:
    return cents is None and currency is None


def start_mappers() -> None:
    """Map the domain classes onto the tables (once per process)."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(Clinic, clinics)
    mapper_registry.map_imperatively(Practitioner, practitioners)
    mapper_registry.map_imperatively(TreatmentType, treatment_types)
    mapper_registry.map_imperatively(Patient, patients)
    mapper_registry.map_imperatively(
        PriceListEntry,
        price_list_entries,
        properties={
            "price": composite(Money, price_list_entries.c.amount_cents, price_list_entries.c.currency)
        },
    )
    mapper_registry.map_imperatively(
        Charge,
        charges,
        properties={
            "amount": composite(Money, charges.c.amount_cents, charges.c.currency, return_none_on=_no_money)
        },
    )
    mapper_registry.map_imperatively(BillingPolicy, billing_policies)
    mapper_registry.map_imperatively(TaxRegistration, clinic_tax_registrations)
    line_mapper = mapper_registry.map_imperatively(
        InvoiceLine,
        invoice_lines,
        properties={
            "amount": composite(Money, invoice_lines.c.amount_cents, invoice_lines.c.currency),
            "tax": composite(Money, invoice_lines.c.tax_cents, invoice_lines.c.currency),
        },
    )
    mapper_registry.map_imperatively(
        Invoice,
        invoices,
        properties={
            "lines": relationship(
                line_mapper, order_by=invoice_lines.c.position, lazy="selectin", cascade="all, delete-orphan"
            ),
        },
    )
    credit_line_mapper = mapper_registry.map_imperatively(
        CreditNoteLine,
        credit_note_lines,
        properties={
            "amount": composite(Money, credit_note_lines.c.amount_cents, credit_note_lines.c.currency),
            "tax": composite(Money, credit_note_lines.c.tax_cents, credit_note_lines.c.currency),
        },
    )
    mapper_registry.map_imperatively(
        CreditNote,
        credit_notes,
        properties={
            "amount": composite(Money, credit_notes.c.amount_cents, credit_notes.c.currency),
            "lines": relationship(
                credit_line_mapper,
                order_by=credit_note_lines.c.position,
                lazy="selectin",
                cascade="all, delete-orphan",
            ),
        },
    )
    allocation_mapper = mapper_registry.map_imperatively(
        Allocation,
        allocations,
        properties={"amount": composite(Money, allocations.c.amount_cents, allocations.c.currency)},
    )
    mapper_registry.map_imperatively(
        Payment,
        payments,
        properties={
            "amount": composite(Money, payments.c.amount_cents, payments.c.currency),
            "allocations": relationship(allocation_mapper, lazy="selectin"),
        },
    )
    mapper_registry.map_imperatively(
        CreditApplication,
        credit_applications,
        properties={
            "amount": composite(Money, credit_applications.c.amount_cents, credit_applications.c.currency),
            "allocations": relationship(
                allocation_mapper, lazy="selectin", order_by=[allocations.c.invoice_id, allocations.c.id]
            ),
        },
    )
    mapper_registry.map_imperatively(AuditEntry, audit_entries)
    mapper_registry.map_imperatively(Coverage, coverages)
    mapper_registry.map_imperatively(
        Package,
        packages,
        properties={"price": composite(Money, packages.c.amount_cents, packages.c.currency)},
    )
    _mapped = True
