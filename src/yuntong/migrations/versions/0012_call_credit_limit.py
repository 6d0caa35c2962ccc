"""the longest a prepaid call may last, kept on its record

``call_records.max_seconds`` is what credit control allowed when the call was placed (None:
unlimited). The node that takes over a dead node's answered call re-arms the credit warning and
cut-off from it, so a prepaid call does not outlive its balance because its first node died.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("max_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("max_seconds")
