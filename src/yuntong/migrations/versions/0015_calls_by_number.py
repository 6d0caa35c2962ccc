"""calls by number: calling and called numbers, the Q.850 cause of every ending

Records that ended before this revision get their cause from their outcome and end reason, as
``yuntong.calls.causes`` gives it for new ones.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 10:05:12.895181
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calling_number", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("called_number", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("cause", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_call_records_called_number", ["called_number", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_call_records_calling_number", ["calling_number", "created_at"], unique=False
        )
    op.execute(_BACKFILL)


# the cause of records ended before this revision (as yuntong.calls.causes decides new ones)
_BACKFILL = """
UPDATE call_records SET cause = CASE
  WHEN outcome = 'answered' AND end_reason IN ('media_lost', 'connection_lost') THEN 31
  WHEN outcome = 'answered' THEN 16
  WHEN outcome = 'rejected' THEN 21
  WHEN outcome = 'busy' THEN 17
  WHEN outcome = 'no_answer' THEN 19
  WHEN outcome = 'canceled' AND end_reason = 'connection_lost' THEN 31
  WHEN outcome = 'canceled' THEN 16
  WHEN outcome = 'unreachable' THEN 20
  WHEN outcome IN ('failed', 'interrupted') THEN 41
  ELSE 31 END
WHERE outcome IS NOT NULL AND cause IS NULL
"""


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index("ix_call_records_calling_number")
        batch_op.drop_index("ix_call_records_called_number")
        batch_op.drop_column("cause")
        batch_op.drop_column("called_number")
        batch_op.drop_column("calling_number")
