"""call holds: each hold of a call (who held it, from when to when), shared by every node

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-07 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0029"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call_records.id"], name=op.f("fk_call_holds_call_id_call_records")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_holds_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_holds")),
    )
    with op.batch_alter_table("call_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_holds_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_holds_call_id"))
    op.drop_table("call_holds")
