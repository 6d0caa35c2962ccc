"""call holds: each hold of a call (who held it, from when to when), shared by every node;
number search: a trigram index of the national number past its first digit (PostgreSQL)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 20:20:00

A "contains" search of four digits or more reads the numbers that begin with the digits from
the national-number index, in order, and those that contain them further on through a trigram
index of ``substr(national, 2)`` (``numbers.selection._containing``): digits that begin a
segment ("1388") no longer read every number of the segment (bench/RESULTS.md). PostgreSQL
only, as the trigram index of migration 0023 (``pg_trgm`` is created there).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAIL_INDEX = "ix_phone_numbers_national_tail_trgm"


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
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            f"CREATE INDEX {TAIL_INDEX} ON phone_numbers"
            " USING gin ((substr(national, 2)) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TAIL_INDEX}")
    with op.batch_alter_table("call_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_holds_call_id"))
    op.drop_table("call_holds")
