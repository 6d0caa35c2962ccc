"""conference calls: conferences (dial-in number, PIN hash, lock, the bridge's Janus room) and
their legs (browsers, phones, outside callers; joined/left times, billable seconds, payer)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 20:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conferences",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("dial_in", sa.String(length=20), nullable=False),
        sa.Column("pin_hash", sa.String(length=64), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("janus_node", sa.String(length=100), nullable=True),
        sa.Column("janus_room", sa.BigInteger(), nullable=True),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_id"], ["users.id"], name=op.f("fk_conferences_organiser_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conferences")),
    )
    with op.batch_alter_table("conferences", schema=None) as batch_op:
        batch_op.create_index("ix_conferences_dial_in_state", ["dial_in", "state"], unique=False)
        batch_op.create_index(
            "ix_conferences_organiser_created", ["organiser_id", "created_at"], unique=False
        )

    op.create_table(
        "conference_legs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conference_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("display", sa.String(length=80), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("sip_call_id", sa.String(length=200), nullable=True),
        sa.Column("janus_participant", sa.BigInteger(), nullable=False),
        sa.Column("moderator", sa.Boolean(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("joined_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("billable_seconds", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conferences.id"],
            name=op.f("fk_conference_legs_conference_id_conferences"),
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["users.id"], name=op.f("fk_conference_legs_payer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_conference_legs_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_legs")),
    )
    with op.batch_alter_table("conference_legs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conference_legs_conference", ["conference_id", "joined_at"], unique=False
        )
        batch_op.create_index("ix_conference_legs_sip_call", ["sip_call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conference_legs", schema=None) as batch_op:
        batch_op.drop_index("ix_conference_legs_sip_call")
        batch_op.drop_index("ix_conference_legs_conference")
    op.drop_table("conference_legs")
    with op.batch_alter_table("conferences", schema=None) as batch_op:
        batch_op.drop_index("ix_conferences_organiser_created")
        batch_op.drop_index("ix_conferences_dial_in_state")
    op.drop_table("conferences")
