"""SMS opt-outs, consent records, inbound texts, appointment copies, clinics' reminder policies, delivery attempts, SMS fallbacks and provider status

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:50:00.000000
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
    with op.batch_alter_table("practitioners") as batch:
        batch.add_column(sa.Column("agenda_email", sa.String(length=254), nullable=True))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("sms_opted_out_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("email_opted_out_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("preferred_language", sa.String(length=2), nullable=True))
        batch.add_column(
            sa.Column("promotional_consent_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_contacts_phone", "contacts", ["phone"], unique=False)
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", name="consent_channel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum("express", "implied", "withdrawn", name="consent_kind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("recorded_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(
        "ix_consent_records_patient", "consent_records", ["patient_id", "recorded_at"], unique=False
    )
    op.create_table(
        "inbound_sms",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("command", sa.String(length=20), nullable=True),
        sa.Column("received_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("message_sid", name=op.f("pk_inbound_sms")),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("fallback_of", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("provider_status", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("expires_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        for column in ("patient_id", "practitioner_id", "treatment_type_id"):
            batch.alter_column(column, existing_type=sa.Uuid(), nullable=True)
        for column in ("starts_at", "ends_at"):
            batch.alter_column(
                column, existing_type=clinic_shared.db.UTCDateTime(timezone=True), nullable=True
            )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", name="attempt_channel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "sending",
                "sent",
                "failed",
                "interrupted",
                name="attempt_outcome",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("started_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        "ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id", "number"], unique=False
    )
    op.create_table(
        "appointments",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("practitioner_id", sa.Uuid(), nullable=False),
        sa.Column("treatment_type_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("confirmed_sequence", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("appointment_id", name=op.f("pk_appointments")),
    )
    op.create_index(
        "ix_appointments_patient_starts", "appointments", ["patient_id", "starts_at"], unique=False
    )
    op.create_index(
        "ix_appointments_practitioner_starts", "appointments", ["practitioner_id", "starts_at"], unique=False
    )
    op.create_table(
        "reminder_policies",
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("email_hours_before", sa.Integer(), nullable=True),
        sa.Column("sms_hours_before", sa.Integer(), nullable=True),
        sa.Column("skip_when_confirmed", sa.Boolean(), nullable=False),
        sa.Column("quiet_hours_start", sa.Time(), nullable=True),
        sa.Column("quiet_hours_end", sa.Time(), nullable=True),
        sa.Column("updated_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_reminder_policies")),
    )


def downgrade() -> None:
    with op.batch_alter_table("practitioners") as batch:
        batch.drop_column("agenda_email")
    op.drop_table("inbound_sms")
    op.drop_index("ix_consent_records_patient", table_name="consent_records")
    op.drop_table("consent_records")
    op.drop_index("ix_contacts_phone", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("promotional_consent_at")
        batch.drop_column("preferred_language")
        batch.drop_column("email_opted_out_at")
        batch.drop_column("sms_opted_out_at")
    op.drop_index("ix_delivery_attempts_delivery", table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    with op.batch_alter_table("deliveries") as batch:
        for column in ("starts_at", "ends_at"):
            batch.alter_column(
                column, existing_type=clinic_shared.db.UTCDateTime(timezone=True), nullable=False
            )
        for column in ("patient_id", "practitioner_id", "treatment_type_id"):
            batch.alter_column(column, existing_type=sa.Uuid(), nullable=False)
        batch.drop_column("payload")
        batch.drop_column("expires_at")
        batch.drop_column("provider_status")
        batch.drop_column("fallback_of")
    op.drop_table("reminder_policies")
    op.drop_index("ix_appointments_practitioner_starts", table_name="appointments")
    op.drop_index("ix_appointments_patient_starts", table_name="appointments")
    op.drop_table("appointments")
