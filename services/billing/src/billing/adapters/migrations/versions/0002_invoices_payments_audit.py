"""charge lifecycle, billing policies, coverages, invoices, credit notes, payments, idempotency keys, audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:56:11.646813
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinic_shared.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_entity", ["entity_id", "occurred_at"], unique=False)

    op.create_table(
        "billing_policies",
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "late_cancel_fee_mode",
            sa.Enum("fixed", "percent", name="fee_mode", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("late_cancel_fee_value", sa.BigInteger(), nullable=False),
        sa.Column(
            "no_show_fee_mode",
            sa.Enum("fixed", "percent", name="fee_mode", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("no_show_fee_value", sa.BigInteger(), nullable=False),
        sa.Column("fee_tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("treatment_tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_billing_policies")),
    )
    op.create_table(
        "coverages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column(
            "payer_kind",
            sa.Enum(
                "patient",
                "worksafebc",
                "icbc",
                "extended_health",
                name="payer_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("claim_number", sa.String(length=40), nullable=True),
        sa.Column("date_of_injury", sa.Date(), nullable=True),
        sa.Column("employer_name", sa.String(length=200), nullable=True),
        sa.Column("insurer_fee_cents", sa.BigInteger(), nullable=True),
        sa.Column("coverage_bp", sa.Integer(), nullable=True),
        sa.Column("per_visit_max_cents", sa.BigInteger(), nullable=True),
        sa.Column("annual_max_cents", sa.BigInteger(), nullable=True),
        sa.Column("policy_number", sa.String(length=60), nullable=True),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverages")),
    )
    with op.batch_alter_table("coverages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coverages_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "key", name=op.f("pk_idempotency_keys")),
    )
    # Gapless invoice and credit-note numbers: one row per (clinic, series, year), locked FOR UPDATE.
    op.create_table(
        "number_counters",
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("series", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("clinic_id", "series", "year", name=op.f("pk_number_counters")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "cash", "card", "e_transfer", "insurer", name="payment_method", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("unallocated_cents", sa.BigInteger(), nullable=False),
        sa.Column("refund_of", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "amount_cents > 0 AND unallocated_cents >= 0", name=op.f("ck_payments_amounts_valid")
        ),
        sa.ForeignKeyConstraint(["refund_of"], ["payments.id"], name=op.f("fk_payments_refund_of_payments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_patient", ["patient_id", "received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_payments_refund_of"), ["refund_of"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column(
            "payer_kind",
            sa.Enum(
                "patient",
                "worksafebc",
                "icbc",
                "extended_health",
                name="payer_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("coverage_id", sa.Uuid(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "issued",
                "balanced",
                "cancelled",
                name="invoice_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("issued_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("issued_by", sa.Uuid(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("credited_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "credited_cents >= 0 AND paid_cents >= 0", name=op.f("ck_invoices_settled_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["coverage_id"], ["coverages.id"], name=op.f("fk_invoices_coverage_id_coverages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("clinic_id", "number", name="uq_invoices_clinic_number"),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_clinic_status", ["clinic_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_coverage_id"), ["coverage_id"], unique=False)
        batch_op.create_index("ix_invoices_patient", ["patient_id", "created_at"], unique=False)

    op.create_table(
        "allocations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_allocations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_allocations_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_allocations_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocations_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocations_payment_id"), ["payment_id"], unique=False)

    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("voids_invoice", sa.Boolean(), nullable=False),
        sa.Column("issued_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_credit_notes_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_credit_notes_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("clinic_id", "number", name="uq_credit_notes_clinic_number"),
    )
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_notes_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("charge_id", sa.Uuid(), nullable=True),
        sa.Column(
            "payer_kind",
            sa.Enum(
                "patient",
                "worksafebc",
                "icbc",
                "extended_health",
                name="payer_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=True),
        sa.Column("treatment_type_id", sa.Uuid(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "amount_cents >= 0 AND tax_cents >= 0", name=op.f("ck_invoice_lines_amounts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        # A charge is billed once per payer.
        sa.UniqueConstraint("charge_id", "payer_kind", name="uq_invoice_lines_charge_payer"),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_lines_invoice_id"), ["invoice_id"], unique=False)

    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax_rate_bp", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("invoice_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("waived_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("waived_by", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("waived_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("package_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_charges_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "packages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("treatment_type_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("sessions_total", sa.Integer(), nullable=False),
        sa.Column("sessions_used", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("sold_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "sessions_used >= 0 AND sessions_used <= sessions_total",
            name=op.f("ck_packages_sessions_within_total"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
    )
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_packages_patient", ["patient_id", "clinic_id", "treatment_type_id"], unique=False
        )

    _install_guards()


def downgrade() -> None:
    _drop_guards()
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index("ix_packages_patient")
    op.drop_table("packages")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charges_invoice_id"))
        batch_op.drop_column("package_id")
        batch_op.drop_column("waived_at")
        batch_op.drop_column("waived_by")
        batch_op.drop_column("waived_reason")
        batch_op.drop_column("invoice_id")
        batch_op.drop_column("tax_rate_bp")

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_lines_invoice_id"))

    op.drop_table("invoice_lines")
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_notes_invoice_id"))

    op.drop_table("credit_notes")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocations_payment_id"))
        batch_op.drop_index(batch_op.f("ix_allocations_invoice_id"))

    op.drop_table("allocations")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_patient")
        batch_op.drop_index(batch_op.f("ix_invoices_coverage_id"))
        batch_op.drop_index("ix_invoices_clinic_status")

    op.drop_table("invoices")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_refund_of"))
        batch_op.drop_index("ix_payments_patient")

    op.drop_table("payments")
    op.drop_table("number_counters")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("coverages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverages_patient_id"))

    op.drop_table("coverages")
    op.drop_table("billing_policies")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_entity")

    op.drop_table("audit_entries")


# The database itself refuses to rewrite history: audit entries are append-only, and an issued invoice's
# number, parties and lines never change (corrections are credit notes).
_PG_GUARDS = [
    """
    CREATE FUNCTION billing_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% rows cannot be changed', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION billing_refuse_change()
    """,
    """
    CREATE FUNCTION billing_freeze_issued_lines() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT status FROM invoices WHERE id = OLD.invoice_id) <> 'draft' THEN
            RAISE EXCEPTION 'lines of an issued invoice cannot change' USING ERRCODE = 'restrict_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER invoice_lines_frozen_once_issued BEFORE UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION billing_freeze_issued_lines()
    """,
    """
    CREATE TRIGGER invoices_frozen_once_issued BEFORE UPDATE OF number, issued_at, clinic_id, patient_id,
        payer_kind, currency ON invoices
    FOR EACH ROW WHEN (OLD.status <> 'draft') EXECUTE FUNCTION billing_refuse_change()
    """,
    """
    CREATE TRIGGER invoices_kept_once_issued BEFORE DELETE ON invoices
    FOR EACH ROW WHEN (OLD.status <> 'draft') EXECUTE FUNCTION billing_refuse_change()
    """,
]

_SQLITE_GUARDS = [
    """CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END""",
    """CREATE TRIGGER invoice_lines_no_update BEFORE UPDATE ON invoice_lines
    WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) <> 'draft'
    BEGIN SELECT RAISE(ABORT, 'lines of an issued invoice cannot change'); END""",
    """CREATE TRIGGER invoice_lines_no_delete BEFORE DELETE ON invoice_lines
    WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) <> 'draft'
    BEGIN SELECT RAISE(ABORT, 'lines of an issued invoice cannot change'); END""",
    """CREATE TRIGGER invoices_frozen_once_issued BEFORE UPDATE OF number, issued_at, clinic_id, patient_id,
        payer_kind, currency ON invoices WHEN OLD.status <> 'draft'
    BEGIN SELECT RAISE(ABORT, 'an issued invoice cannot change'); END""",
    """CREATE TRIGGER invoices_kept_once_issued BEFORE DELETE ON invoices WHEN OLD.status <> 'draft'
    BEGIN SELECT RAISE(ABORT, 'an issued invoice cannot be deleted'); END""",
]


def _install_guards() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _PG_GUARDS if dialect == "postgresql" else _SQLITE_GUARDS if dialect == "sqlite" else []:
        op.execute(statement)


def _drop_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, trigger in (
            ("audit_entries", "audit_entries_append_only"),
            ("invoice_lines", "invoice_lines_frozen_once_issued"),
            ("invoices", "invoices_frozen_once_issued"),
            ("invoices", "invoices_kept_once_issued"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS billing_freeze_issued_lines()")
        op.execute("DROP FUNCTION IF EXISTS billing_refuse_change()")
    elif op.get_bind().dialect.name == "sqlite":
        for trigger in (
            "audit_entries_no_update",
            "audit_entries_no_delete",
            "invoice_lines_no_update",
            "invoice_lines_no_delete",
            "invoices_frozen_once_issued",
            "invoices_kept_once_issued",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
