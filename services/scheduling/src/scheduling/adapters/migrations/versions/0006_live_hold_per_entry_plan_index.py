"""a waitlist hold names its entry (one live hold per entry); a plan session keeps its place in the series

Holds already offered are linked to the entry pointing at them; a hold no entry points at (left by two
cancellations racing for one entry) stays unlinked and is released by the next sweep once its window
has passed. Existing plan sessions are numbered in the order they were booked, then by start time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROPOSED = sa.text("status = 'proposed'")


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waitlist_entry_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("plan_index", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE appointments SET waitlist_entry_id = "
        "(SELECT w.id FROM waitlist_entries w WHERE w.offer_appointment_id = appointments.id) "
        "WHERE id IN (SELECT offer_appointment_id FROM waitlist_entries WHERE offer_appointment_id IS NOT NULL)"
    )
    op.execute(
        "UPDATE appointments SET plan_index = (SELECT count(*) FROM appointments b "
        "WHERE b.plan_id = appointments.plan_id AND (b.booked_at < appointments.booked_at "
        "OR (b.booked_at = appointments.booked_at AND (b.starts_at < appointments.starts_at "
        "OR (b.starts_at = appointments.starts_at AND b.id < appointments.id))))) "
        "WHERE plan_id IS NOT NULL"
    )
    # Outside the batch: SQLite's table copy would not carry the partial indexes' WHERE clauses.
    op.create_index(
        "uq_appointments_one_live_hold_per_entry",
        "appointments",
        ["waitlist_entry_id"],
        unique=True,
        postgresql_where=PROPOSED,
        sqlite_where=PROPOSED,
    )
    op.create_index(
        "ix_appointments_holds_booked_at",
        "appointments",
        ["booked_at"],
        postgresql_where=PROPOSED,
        sqlite_where=PROPOSED,
    )


def downgrade() -> None:
    op.drop_index("ix_appointments_holds_booked_at", table_name="appointments")
    op.drop_index("uq_appointments_one_live_hold_per_entry", table_name="appointments")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("plan_index")
        batch_op.drop_column("waitlist_entry_id")
