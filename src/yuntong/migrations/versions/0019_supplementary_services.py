"""supplementary services: users' caller-ID, forwarding and barring settings; forwarded legs

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supplementary_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("clip", sa.Boolean(), nullable=False),
        sa.Column("clir_mode", sa.String(length=10), nullable=False),
        sa.Column("cfu", sa.String(length=20), nullable=True),
        sa.Column("cfb", sa.String(length=20), nullable=True),
        sa.Column("cfnry", sa.String(length=20), nullable=True),
        sa.Column("cfnrc", sa.String(length=20), nullable=True),
        sa.Column("cfnry_timer_s", sa.Integer(), nullable=False),
        sa.Column("bar_outgoing", sa.Boolean(), nullable=False),
        sa.Column("bar_international", sa.Boolean(), nullable=False),
        sa.Column("bar_incoming", sa.Boolean(), nullable=False),
        sa.Column("bar_anonymous", sa.Boolean(), nullable=False),
        sa.Column("incoming_list_mode", sa.String(length=10), nullable=False),
        sa.Column("incoming_list", sa.JSON(), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=True),
        sa.Column("updated_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_call_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("forwarding", sa.String(length=8), nullable=True))
        batch_op.create_index("ix_call_records_parent", ["parent_call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index("ix_call_records_parent")
        batch_op.drop_column("forwarding")
        batch_op.drop_column("parent_call_id")
    op.drop_table("supplementary_settings")
