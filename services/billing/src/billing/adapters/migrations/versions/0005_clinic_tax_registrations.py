"""billing's own record of each clinic's GST/HST registration number

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinic_shared.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinic_tax_registrations",
        sa.Column("clinic_id", sa.Uuid(), nullable=False),
        sa.Column("gst_hst_number", sa.String(length=15), nullable=True),
        sa.Column("updated_at", clinic_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("clinic_id", name=op.f("pk_clinic_tax_registrations")),
    )


def downgrade() -> None:
    op.drop_table("clinic_tax_registrations")
