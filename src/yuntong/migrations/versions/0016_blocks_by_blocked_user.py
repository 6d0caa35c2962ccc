"""blocks found by the blocked user: the presence read asks "who blocks this user?"

Without the index, showing a user's presence to their watchers scanned the blocks table.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 10:12:40
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index("ix_blocks_blocked_user_id", ["blocked_user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_blocks_blocked_user_id")
