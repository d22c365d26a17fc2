"""initial schema: copies of scheduling's records, price lists, charges, inbox and outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:12:36.462346
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinic_shared.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("as_of", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
    )
    op.create_table(
        "practitioners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("registration_number", sa.String(length=50), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("as_of", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioners")),
    )
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioners_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "treatment_types",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("as_of", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_types")),
    )
    with op.batch_alter_table("treatment_types", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_treatment_types_clinic_id"), ["clinic_id"], unique=False)

    op.create_table(
        "patients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("as_of", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    op.create_table(
        "price_list_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("treatment_type_id", sa.Uuid(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_price_list_entries_amount_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_list_entries")),
        sa.UniqueConstraint(
            "clinic_id", "treatment_type_id", "effective_from", name="uq_price_list_entries_effective_date"
        ),
    )
    op.create_table(
        "charges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind", sa.Enum("appointment", name="charge_kind", native_enum=False, length=20), nullable=False
        ),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("treatment_type_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column(
            "status",
            sa.Enum("planned", "billable", "aborted", name="charge_status", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("appointment_sequence", sa.Integer(), nullable=False),
        sa.Column("late_cancellation", sa.Boolean(), nullable=False),
        sa.Column("aborted_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(amount_cents IS NULL) = (currency IS NULL)", name=op.f("ck_charges_amount_has_currency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
        # One charge per appointment and kind: a duplicated booking can never charge twice.
        sa.UniqueConstraint("appointment_id", "kind", name="uq_charges_appointment_kind"),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_charges_awaiting_price", ["clinic_id", "treatment_type_id", "service_date"], unique=False
        )
        batch_op.create_index("ix_charges_patient_time", ["patient_id", "starts_at"], unique=False)
        batch_op.create_index("ix_charges_status", ["status"], unique=False)

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("processed_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("exchange", sa.String(length=100), nullable=False),
        sa.Column("routing_key", sa.String(length=200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_pending",
            ["next_attempt_at", "position"],
            unique=False,
            postgresql_where=sa.text("sent_at IS NULL"),
            sqlite_where=sa.text("sent_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_pending",
            postgresql_where=sa.text("sent_at IS NULL"),
            sqlite_where=sa.text("sent_at IS NULL"),
        )

    op.drop_table("outbox")
    op.drop_table("inbox")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charges_status")
        batch_op.drop_index("ix_charges_patient_time")
        batch_op.drop_index("ix_charges_awaiting_price")

    op.drop_table("charges")
    op.drop_table("price_list_entries")
    op.drop_table("patients")
    with op.batch_alter_table("treatment_types", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_types_clinic_id"))

    op.drop_table("treatment_types")
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioners_clinic_id"))

    op.drop_table("practitioners")
    op.drop_table("clinics")
