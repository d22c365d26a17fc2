"""a coverage's days of validity: valid_from (its first day) and valid_to (its last, set when it is ended)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a coverage recorded before has no first day of its own (its start is the date of injury,
    # else the day it was recorded), and an open coverage has no last day.
    with op.batch_alter_table("coverages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("valid_to", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coverages", schema=None) as batch_op:
        batch_op.drop_column("valid_to")
        batch_op.drop_column("valid_from")
