"""nodes, job leases, and the node that owns each call record, live meeting and stay

``nodes`` lists the processes that ran as nodes and when each was last heard (the keepalive
on the database; with Redis also a key there). ``job_leases`` holds the leases of singleton
jobs (the billing daily run, rating, the sweep of dead nodes' rows) with a fencing counter and
the last run marked done. ``node_id`` on ``call_records``, ``meetings`` and
``meeting_attendance`` says which node runs (ran) the row, so that recovery closes only the
rows of its own previous run or of dead nodes; existing rows keep NULL (from before node ids:
closed by the next start, as before).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-20 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNED = ("call_records", "meetings", "meeting_attendance")


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("started_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
    )
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("expires_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_key", sa.String(length=64), nullable=True),
        sa.Column("done_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("node_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("node_id")
    op.drop_table("job_leases")
    op.drop_table("nodes")
