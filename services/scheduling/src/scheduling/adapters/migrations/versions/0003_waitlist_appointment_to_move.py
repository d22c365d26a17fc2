"""waitlist entries may name the patient's later appointment to move to an offered time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("appointment_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_waitlist_entries_appointment_id_appointments"),
            "appointments",
            ["appointment_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_waitlist_entries_appointment_id_appointments"), type_="foreignkey"
        )
        batch_op.drop_column("appointment_id")
