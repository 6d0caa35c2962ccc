"""what a node taking a live meeting over keeps besides roles and mutes, and stays billed in parts

``meeting_attendance.hand`` (a raised hand) and ``meeting_attendance.admitted`` (let in from the
lobby by a host, not joined yet) are written as they change, so that the node taking a dead
node's meeting over keeps them. ``meeting_attendance.billed_s`` is how many of the stay's seconds
have been billed: a stay closed when its room stopped and reopened when its participant came
back with the same ticket is billed again only for what came after (a usage record per part).
Stays closed before this revision were billed in full.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meeting_attendance") as batch:
        batch.add_column(sa.Column("hand", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(
            sa.Column("admitted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("billed_s", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE meeting_attendance SET billed_s = seconds"
        " WHERE left_at IS NOT NULL AND joined_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("meeting_attendance") as batch:
        for column in ("billed_s", "admitted", "hand"):
            batch.drop_column(column)
