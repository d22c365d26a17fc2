"""a package's name (as sold, e.g. "IMS 6-pack") and its last day of use

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Packages sold before had no name: they are named by their sessions, as their invoice line was.
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("expires_on", sa.Date(), nullable=True))
    op.execute("UPDATE packages SET name = sessions_total || ' sessions' WHERE name IS NULL")
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.alter_column("name", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_column("expires_on")
        batch_op.drop_column("name")
