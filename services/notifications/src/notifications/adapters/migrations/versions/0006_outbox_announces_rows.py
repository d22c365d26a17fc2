"""the outbox announces new rows (NOTIFY outbox_rows at commit) so that the relay publishes them at once
instead of at its next poll (clinic_shared.messaging.outbox_wakeup); PostgreSQL only

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

from clinic_shared.messaging.outbox_wakeup import drop_notify_trigger_ddl, notify_trigger_ddl

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in notify_trigger_ddl("outbox"):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in drop_notify_trigger_ddl("outbox"):
            op.execute(statement)
