"""call checkpoints and standing changes seen by every server

``call_records.alive_at`` is the last checkpoint of a live answered call: every
``call_checkpoint_s`` each server writes the moment for all its answered calls in one
statement. A call cut by a crash is billed from its answer up to its last checkpoint (none:
nothing), never for the time the server was down.

``billing_standing_changes`` records that some accounts' standing changed (state, limit,
kind, ledger, subscriptions), whichever process changed it (a server, ``yuntong billing
close``/``daily``): every server polls it and drops the standings it keeps in memory for
those accounts, which the in-process bus alone did for its own process only.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(
            sa.Column("alive_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "billing_standing_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_standing_changes")),
    )
    op.create_index(
        op.f("ix_billing_standing_changes_created_at"),
        "billing_standing_changes",
        ["created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_billing_standing_changes_created_at"), table_name="billing_standing_changes"
    )
    op.drop_table("billing_standing_changes")
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("alive_at")
