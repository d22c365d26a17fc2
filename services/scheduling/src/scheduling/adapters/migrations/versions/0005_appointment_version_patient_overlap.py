"""appointment version (compare-and-set for state changes) and no overlapping appointments for one patient

PostgreSQL refuses two live appointments of one patient overlapping in time (their own time: the
practitioner's buffer after the end is not the patient's), like 0001 and 0002 do for practitioners and
rooms; an appointment staff booked as an allowed overlap is left out of the rule. Existing overlaps are
kept and flagged as allowed, so the constraint can be created on a database that already has some.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 08:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False))
        batch_op.add_column(
            sa.Column("allow_patient_overlap", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    if op.get_bind().dialect.name == "postgresql":
        # The later of two overlapping live appointments (by start, then id) becomes the allowed overlap.
        op.execute(
            "UPDATE appointments a SET allow_patient_overlap = true "
            "WHERE a.status <> 'cancelled' AND EXISTS (SELECT 1 FROM appointments b "
            "WHERE b.patient_id = a.patient_id AND b.id <> a.id AND b.status <> 'cancelled' "
            "AND b.starts_at < a.ends_at AND a.starts_at < b.ends_at "
            "AND (b.starts_at, b.id) < (a.starts_at, a.id))"
        )
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_patient_overlap "
            "EXCLUDE USING gist (patient_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            "WHERE (status <> 'cancelled' AND NOT allow_patient_overlap)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE appointments DROP CONSTRAINT ex_appointments_patient_overlap")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("allow_patient_overlap")
        batch_op.drop_column("version")
