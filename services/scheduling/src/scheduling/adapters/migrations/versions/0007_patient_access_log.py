"""the patient access log: who read or changed which patient record, append-only

The database itself refuses UPDATE and DELETE on it (a trigger on PostgreSQL and on SQLite), so no code
path, and no one with the service's credentials, can rewrite what was recorded.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic_shared.db import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "the patient access log is append-only"


def upgrade() -> None:
    op.create_table(
        "patient_access_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("actor_account_id", sa.Uuid(), nullable=False),
        sa.Column("actor_clinic_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("resource", sa.String(length=40), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_patient_access_log_patient_at", "patient_access_log", ["patient_id", "at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION patient_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER patient_access_log_append_only BEFORE UPDATE OR DELETE ON patient_access_log "
            "FOR EACH ROW EXECUTE FUNCTION patient_access_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER patient_access_log_no_{event.lower()} BEFORE {event} ON patient_access_log "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER patient_access_log_append_only ON patient_access_log")
        op.execute("DROP FUNCTION patient_access_log_append_only()")
    op.drop_index("ix_patient_access_log_patient_at", table_name="patient_access_log")
    op.drop_table("patient_access_log")
