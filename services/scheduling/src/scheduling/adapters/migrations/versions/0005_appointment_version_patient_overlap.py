"""appointment version (compare-and-set for state changes) and no overlapping appointments for one patient

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 08:10:00.000000
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
