"""practitioners name their clinic (ADR 0006: only its staff, or organisation-wide staff, change their
agenda address); backfilled from the clinic of each practitioner's latest appointment copy

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clinic_id", sa.Uuid(), nullable=True))
    # Until scheduling next publishes the practitioner, their clinic is where they last had an appointment
    # (a practitioner with none stays without: only organisation-wide staff can change them meanwhile).
    op.execute(
        """
        UPDATE practitioners SET clinic_id = (
            SELECT a.clinic_id FROM appointments a
            WHERE a.practitioner_id = practitioners.practitioner_id
            ORDER BY a.starts_at DESC, a.appointment_id
            LIMIT 1
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("practitioners", schema=None) as batch_op:
        batch_op.drop_column("clinic_id")
