"""completion rate (CP 2.1): call attempts found by when they were placed, and the days whose
network effectiveness ratio fell below the contract

The completion figures are computed from the call records on read, over a range of days for
every customer at once: without the index that read scanned the whole table.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-07 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0018"
down_revision: str | None = "0016"
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
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index("ix_call_records_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index("ix_call_records_created")
    op.drop_table("completion_alerts")
