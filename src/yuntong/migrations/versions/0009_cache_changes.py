"""one durable change feed for every cache, replacing the billing-only one

``cache_changes`` holds the messages of the bus topics that invalidate what servers keep in
memory (account statuses, block lists and presence watchers, the price catalogue, credit
standings), written by whichever process published them (a server, the ``yuntong`` command);
every server polls it and delivers the rows of other processes to its own bus
(``core/changes.py``). It replaces ``billing_standing_changes`` (0008), which did this for
credit standings only; its rows are short-lived notices (pruned after an hour), not data, so
none are carried over.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cache_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_changes")),
        sqlite_autoincrement=True,  # SQLite never hands an id out twice, even after a prune
    )
    op.create_index(
        op.f("ix_cache_changes_created_at"), "cache_changes", ["created_at"], unique=False
    )
    op.drop_index(
        op.f("ix_billing_standing_changes_created_at"), table_name="billing_standing_changes"
    )
    op.drop_table("billing_standing_changes")


def downgrade() -> None:
    op.create_table(
        "billing_standing_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_standing_changes")),
    )
    op.create_index(
        op.f("ix_billing_standing_changes_created_at"),
        "billing_standing_changes",
        ["created_at"],
        unique=False,
    )
    op.drop_index(op.f("ix_cache_changes_created_at"), table_name="cache_changes")
    op.drop_table("cache_changes")
