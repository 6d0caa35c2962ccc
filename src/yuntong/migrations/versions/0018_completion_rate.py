"""completion rate (CP 2.1): each finished day's attempts counted by customer, number, answer
and cause; the days whose network effectiveness ratio fell below the contract; call attempts
found by when they were placed (the days not counted yet are read from the call records)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "completion_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("effective", sa.Integer(), nullable=False),
        sa.Column("contracted_bp", sa.Integer(), nullable=False),
        sa.Column("raised_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_completion_alerts")),
        sa.UniqueConstraint("day", name=op.f("uq_completion_alerts_day")),
    )
    op.create_table(
        "completion_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("cause", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_completion_counts")),
        sa.UniqueConstraint(
            "day",
            "account_id",
            "number",
            "answered",
            "cause",
            name=op.f("uq_completion_counts_day"),
        ),
    )
    with op.batch_alter_table("completion_counts", schema=None) as batch_op:
        batch_op.create_index("ix_completion_counts_account_day", ["account_id", "day"])
        batch_op.create_index("ix_completion_counts_number_day", ["number", "day"])
    op.create_table(
        "completion_counted_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("counted_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_completion_counted_days")),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index("ix_call_records_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index("ix_call_records_created")
    op.drop_table("completion_counted_days")
    with op.batch_alter_table("completion_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_completion_counts_number_day")
        batch_op.drop_index("ix_completion_counts_account_day")
    op.drop_table("completion_counts")
    op.drop_table("completion_alerts")
