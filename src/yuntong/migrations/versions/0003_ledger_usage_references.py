"""ledger usage references without per-row foreign key checks

Rating appends one ledger entry per usage record, a million a month for a large operator. On
PostgreSQL each foreign key of ``ledger_entries`` is checked by a trigger per inserted row,
and the check of ``usage_id`` and ``price_id`` also takes a share lock on the referenced
usage record and price version: together 40 % of rating's database time in the billing
benchmark. Both references are correct by construction and their targets are never
deleted: the rater writes ``usage_id`` from the records it reads in the same statement and
``price_id`` from the catalog; usage records and price versions are append-only. The index
on ``usage_id`` stays (rated-or-not and re-rating look entries up by it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROPPED = (
    ("fk_ledger_entries_usage_id_usage_records", "usage_records", "usage_id"),
    ("fk_ledger_entries_price_id_product_prices", "product_prices", "price_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        for name, _target, _column in _DROPPED:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        for name, target, column in _DROPPED:
            batch.create_foreign_key(name, target, [column], ["id"])
