"""number search: a trigram index for "contains" on PostgreSQL (pg_trgm)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 17:00:00

A search for numbers containing some digits is ``national LIKE '%1234%'``, which no B-tree
serves: on PostgreSQL a search over 1,000,000 numbers read and sorted every match of a scan
(p99 430 ms, bench/RESULTS.md). A GIN index of the trigrams of ``national`` serves it for three
digits or more. PostgreSQL only: SQLite walks the national-number index in order and stops at
the page's last match (p99 23 ms), and has no trigram index.

``pg_trgm`` is a trusted extension (PostgreSQL 13 and later): a user with CREATE on the
database may create it, no superuser needed.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_phone_numbers_national_trgm"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"CREATE INDEX {INDEX} ON phone_numbers USING gin (national gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    # the extension stays: other objects of the database may use it by now
