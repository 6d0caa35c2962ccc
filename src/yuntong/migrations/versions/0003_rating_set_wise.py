"""set-wise rating and a cheaper close: references checked by construction; allowance totals

Rating appends one ledger entry per usage record, a million a month for a large operator. On
PostgreSQL each foreign key of ``ledger_entries`` is checked by a trigger per inserted row,
and the check of ``usage_id`` and ``price_id`` also takes a share lock on the referenced
usage record and price version: together 40 % of rating's database time in the billing
benchmark. Both references are correct by construction and their targets are never
deleted: the rater writes ``usage_id`` from the records it reads in the same statement and
``price_id`` from the catalog; usage records and price versions are append-only. The index
on ``usage_id`` stays (rated-or-not and re-rating look entries up by it).

``allowance_use`` keeps the allowance used per account, usage type and cycle, written by the
rating statement itself: reading it costs one row per group where summing the account's
ledger entries cost a heap visit per entry (half of a batch's time at a million records).

PostgreSQL only: the aggregate ``yuntong_allowance_walk(prior, billed, allowance)`` carries
the allowance used through a cycle's records as a window aggregate. Its step is
``max(used, min(used + billed, allowance))``, starting from ``prior``: the allowance in force
for each record may differ (a package changed in the middle of the cycle) and the use never
goes down.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROPPED = (
    ("fk_ledger_entries_usage_id_usage_records", "usage_records", "usage_id"),
    ("fk_ledger_entries_price_id_product_prices", "product_prices", "price_id"),
)
# the check of a statement line's entry locks that ledger row (a WAL record and a dirty page
# per entry: a million at a cycle close); the close writes lines for the entries it has just
# read, the unique key keeps an entry on one statement, and ledger rows are never deleted
_LINE_ENTRY_FK = "fk_statement_lines_entry_id_ledger_entries"

_STEP = """
CREATE FUNCTION yuntong_allowance_step(used bigint, prior bigint, billed bigint, allowance bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT greatest(coalesce(used, prior), least(coalesce(used, prior) + billed, allowance)) $$
"""
_AGGREGATE = """
CREATE AGGREGATE yuntong_allowance_walk(bigint, bigint, bigint) (
    SFUNC = yuntong_allowance_step, STYPE = bigint
)
"""


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        for name, _target, _column in _DROPPED:
            batch.drop_constraint(name, type_="foreignkey")
    with op.batch_alter_table("statement_lines") as batch:
        batch.drop_constraint(_LINE_ENTRY_FK, type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_STEP)
        op.execute(_AGGREGATE)
    op.create_table(
        "allowance_use",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("usage_type", sa.String(length=40), nullable=False),
        sa.Column("cycle_start", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_s", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing_accounts.id"],
            name=op.f("fk_allowance_use_account_id_billing_accounts"),
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "usage_type", "cycle_start", name=op.f("pk_allowance_use")
        ),
    )


def downgrade() -> None:
    op.drop_table("allowance_use")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP AGGREGATE yuntong_allowance_walk(bigint, bigint, bigint)")
        op.execute("DROP FUNCTION yuntong_allowance_step(bigint, bigint, bigint, bigint)")
    with op.batch_alter_table("ledger_entries") as batch:
        for name, target, column in _DROPPED:
            batch.create_foreign_key(name, target, [column], ["id"])
    with op.batch_alter_table("statement_lines") as batch:
        batch.create_foreign_key(_LINE_ENTRY_FK, "ledger_entries", ["entry_id"], ["id"])
