"""do-not-disturb schedules (quiet hours) and their pause

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dnd_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("days", sa.String(length=10), nullable=False),
        sa.Column("weekdays", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dnd_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dnd_schedules_user_id"), ["user_id"], unique=False)
    op.create_table(
        "dnd_pauses",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("until", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("dnd_pauses")
    with op.batch_alter_table("dnd_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dnd_schedules_user_id"))
    op.drop_table("dnd_schedules")
