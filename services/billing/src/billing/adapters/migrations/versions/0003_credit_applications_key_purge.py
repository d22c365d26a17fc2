"""patient credit applied to invoices; an index for purging idempotency keys by age

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinic_shared.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_applications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("applied_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.Uuid(), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_credit_applications_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_applications")),
    )
    with op.batch_alter_table("credit_applications", schema=None) as batch_op:
        batch_op.create_index("ix_credit_applications_patient", ["patient_id", "applied_at"], unique=False)

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_application_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_allocations_credit_application_id"), ["credit_application_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_allocations_credit_application_id_credit_applications"),
            "credit_applications",
            ["credit_application_id"],
            ["id"],
        )

    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_created_at")

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_allocations_credit_application_id_credit_applications"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_allocations_credit_application_id"))
        batch_op.drop_column("credit_application_id")

    with op.batch_alter_table("credit_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_applications_patient")
    op.drop_table("credit_applications")
