"""sign-ups waiting for their e-mail address to be confirmed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic_shared.db import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_up_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_up_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_up_requests_token_hash")),
    )
    op.create_index(op.f("ix_sign_up_requests_expires_at"), "sign_up_requests", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_up_requests_expires_at"), table_name="sign_up_requests")
    op.drop_table("sign_up_requests")
