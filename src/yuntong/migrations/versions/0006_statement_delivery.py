"""statement delivery: e-mail attempts of each notice; the cycles each close day has closed

A notice whose e-mail fails keeps ``emailed_at`` empty and counts the attempt
(``email_attempts``, ``email_failed_at``, ``email_error`` — a short code, never an address),
so that it is retried and reported instead of stopping the other notices.

``billing_cycle_closes`` records each cycle closed for the accounts of one close day: the
daily run closes every ended cycle not recorded there, however late it runs. Cycles already
closed (a cycle statement exists) are recorded here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("billing_notices") as batch:
        batch.add_column(
            sa.Column("email_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("email_failed_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("email_error", sa.String(length=64), nullable=True))
    op.create_table(
        "billing_cycle_closes",
        sa.Column("close_day", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.String(length=16), nullable=False),
        sa.Column("closed_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("close_day", "cycle", name=op.f("pk_billing_cycle_closes")),
    )
    op.execute(
        """
        INSERT INTO billing_cycle_closes (close_day, cycle, closed_at, issued)
        SELECT a.close_day, s.cycle, max(s.issued_at), count(*)
        FROM statements s JOIN billing_accounts a ON a.id = s.account_id
        WHERE s.kind = 'cycle'
        GROUP BY a.close_day, s.cycle
        """
    )


def downgrade() -> None:
    op.drop_table("billing_cycle_closes")
    with op.batch_alter_table("billing_notices") as batch:
        batch.drop_column("email_error")
        batch.drop_column("email_failed_at")
        batch.drop_column("email_attempts")
