"""outbox rows and deliveries keep the trace context (W3C traceparent, tracestate) of what wrote them: the
relay puts an outbox row's in the message headers, the dispatcher sends a delivery within its trace

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows written before, or while tracing is off, have none.
    for table in ("outbox", "deliveries"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("trace_context", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("deliveries", "outbox"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("trace_context")
