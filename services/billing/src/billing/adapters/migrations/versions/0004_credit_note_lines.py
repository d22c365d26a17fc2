"""credit note lines: what each credit note takes back of each invoice line, before tax and in tax

Credit notes issued before this revision are given their lines here, split the way billing splits a new
one (in proportion to what is left of each line, tax included; each share into amount and tax at the
line's rate, rounded half up). The split is written out below rather than imported, so that this revision
keeps doing what it did when billing's code changes. Credit notes and their lines are then append-only,
like issued invoices.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 10:00:00.000000
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASIS_POINTS = 10_000


def upgrade() -> None:
    credit_note_lines = op.create_table(
        "credit_note_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("credit_note_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_line_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "amount_cents >= 0 AND tax_cents >= 0 AND amount_cents + tax_cents > 0",
            name=op.f("ck_credit_note_lines_amounts_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_credit_note_lines_credit_note_id_credit_notes"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_credit_note_lines_invoice_line_id_invoice_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_lines")),
    )
    with op.batch_alter_table("credit_note_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_note_lines_credit_note_id"), ["credit_note_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_credit_note_lines_invoice_line_id"), ["invoice_line_id"], unique=False
        )
    rows = _lines_of_earlier_credit_notes()
    if rows:
        op.bulk_insert(credit_note_lines, rows)
    _install_guards()


def downgrade() -> None:
    _drop_guards()
    with op.batch_alter_table("credit_note_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_note_lines_invoice_line_id"))
        batch_op.drop_index(batch_op.f("ix_credit_note_lines_credit_note_id"))
    op.drop_table("credit_note_lines")


def _lines_of_earlier_credit_notes() -> list[dict[str, object]]:
    notes = sa.table(
        "credit_notes",
        sa.column("id", sa.Uuid()),
        sa.column("invoice_id", sa.Uuid()),
        sa.column("amount_cents", sa.BigInteger()),
        sa.column("currency", sa.String()),
        sa.column("issued_at"),
    )
    lines = sa.table(
        "invoice_lines",
        sa.column("id", sa.Uuid()),
        sa.column("invoice_id", sa.Uuid()),
        sa.column("amount_cents", sa.BigInteger()),
        sa.column("tax_cents", sa.BigInteger()),
        sa.column("tax_rate_bp", sa.Integer()),
        sa.column("position", sa.Integer()),
    )
    conn = op.get_bind()
    # Per invoice, in line order: (line id, amount left, tax left, tax rate).
    left: dict[uuid.UUID, list[tuple[uuid.UUID, int, int, int]]] = {}
    rows: list[dict[str, object]] = []
    ordered = sa.select(notes.c.id, notes.c.invoice_id, notes.c.amount_cents, notes.c.currency).order_by(
        notes.c.invoice_id, notes.c.issued_at, notes.c.id
    )
    for note_id, invoice_id, note_cents, currency in conn.execute(ordered).all():
        if invoice_id not in left:
            query = sa.select(lines.c.id, lines.c.amount_cents, lines.c.tax_cents, lines.c.tax_rate_bp)
            left[invoice_id] = [
                (line_id, amount, tax, rate_bp)
                for line_id, amount, tax, rate_bp in conn.execute(
                    query.where(lines.c.invoice_id == invoice_id).order_by(lines.c.position)
                ).all()
            ]
        remaining = left[invoice_id]
        shares = _allocate(note_cents, [amount + tax for _, amount, tax, _ in remaining])
        position = 0
        for index, ((line_id, amount, tax, rate_bp), share) in enumerate(zip(remaining, shares, strict=True)):
            if share == 0:
                continue
            rate = BASIS_POINTS + rate_bp
            before_tax = max(share - tax, min((2 * share * BASIS_POINTS + rate) // (2 * rate), amount))
            remaining[index] = (line_id, amount - before_tax, tax - (share - before_tax), rate_bp)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "credit_note_id": note_id,
                    "invoice_line_id": line_id,
                    "amount_cents": before_tax,
                    "tax_cents": share - before_tax,
                    "currency": currency,
                    "position": position,
                }
            )
            position += 1
    return rows


def _allocate(cents: int, weights: list[int]) -> list[int]:
    total = sum(weights)
    if not 0 < cents <= total:
        raise RuntimeError(f"a credit note of {cents} cents exceeds what its invoice billed ({total})")
    shares = [cents * weight // total for weight in weights]
    receivers = [index for index, weight in enumerate(weights) if weight > 0]
    for index in receivers[: cents - sum(shares)]:
        shares[index] += 1
    return shares


_PG_GUARDS = [
    """
    CREATE TRIGGER credit_notes_append_only BEFORE UPDATE OR DELETE ON credit_notes
    FOR EACH ROW EXECUTE FUNCTION billing_refuse_change()
    """,
    """
    CREATE TRIGGER credit_note_lines_append_only BEFORE UPDATE OR DELETE ON credit_note_lines
    FOR EACH ROW EXECUTE FUNCTION billing_refuse_change()
    """,
]

_SQLITE_GUARDS = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
    BEGIN SELECT RAISE(ABORT, 'credit notes cannot change'); END"""
    for table in ("credit_notes", "credit_note_lines")
    for verb in ("UPDATE", "DELETE")
]


def _install_guards() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _PG_GUARDS if dialect == "postgresql" else _SQLITE_GUARDS if dialect == "sqlite" else []:
        op.execute(statement)


def _drop_guards() -> None:
    dialect = op.get_bind().dialect.name
    for table in ("credit_notes", "credit_note_lines"):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif dialect == "sqlite":
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
