"""the owner lease of a live meeting, and the room state a node taking it over needs

``meetings.owner_fence`` and ``meetings.owner_until`` make ``meetings.node_id`` a lease: a node
opens a meeting's room only after taking it (a conditional ``UPDATE`` that bumps the fence),
renews it while the room runs, and another node takes it over only once it expired
(``yuntong.meetings.live.lease``). ``meetings.room_locked`` and the host's mutes on
``meeting_attendance`` (``muted_audio``, ``muted_video``, ``ask_to_unmute``) are written when a
host changes them, so that the node taking over a dead node's meeting keeps them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-21 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MUTES = ("muted_audio", "muted_video", "ask_to_unmute")


def upgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("owner_fence", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("owner_until", yuntong.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("room_locked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("meeting_attendance") as batch:
        for column in MUTES:
            batch.add_column(
                sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    with op.batch_alter_table("meeting_attendance") as batch:
        for column in MUTES:
            batch.drop_column(column)
    with op.batch_alter_table("meetings") as batch:
        batch.drop_column("room_locked")
        batch.drop_column("owner_until")
        batch.drop_column("owner_fence")
