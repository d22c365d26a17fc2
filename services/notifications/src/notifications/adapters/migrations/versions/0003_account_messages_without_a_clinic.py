"""deliveries may name no clinic: messages about an account (password-reset links)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 05:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("clinic_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    # Account messages cannot be kept without a clinic: they (and their attempts) go.
    op.execute(
        "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE clinic_id IS NULL)"
    )
    op.execute("DELETE FROM deliveries WHERE clinic_id IS NULL")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("clinic_id", existing_type=sa.Uuid(), nullable=False)
