"""meetings: the meeting, attendance, chat, invitations, recordings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:11:15.087379
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=12), nullable=False),
        sa.Column("passcode", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("start_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("recurrence", sa.String(length=16), nullable=True),
        sa.Column("recurrence_count", sa.Integer(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("janus_node", sa.String(length=64), nullable=True),
        sa.Column("janus_room", sa.BigInteger(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["host_id"], ["users.id"], name=op.f("fk_meetings_host_id_users")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_meetings_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index("ix_meetings_host_start", ["host_id", "start_at"], unique=False)
        batch_op.create_index("ix_meetings_number_status", ["number", "status"], unique=False)

    op.create_table(
        "meeting_attendance",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("guest_key", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("waited_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("joined_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("left_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("leave_reason", sa.String(length=24), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("media", sa.String(length=8), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("loss_pct", sa.Float(), nullable=True),
        sa.Column("jitter_ms", sa.Float(), nullable=True),
        sa.Column("quality_samples", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_attendance_meeting_id_meetings")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_meeting_attendance_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_attendance")),
    )
    with op.batch_alter_table("meeting_attendance", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meeting_attendance_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meeting_attendance_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "meeting_chat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("sender_name", sa.String(length=64), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_chat_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_chat")),
    )
    with op.batch_alter_table("meeting_chat", schema=None) as batch_op:
        batch_op.create_index("ix_meeting_chat_meeting_at", ["meeting_id", "at"], unique=False)

    op.create_table(
        "meeting_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_invitations_meeting_id_meetings")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_meeting_invitations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_invitations")),
    )
    with op.batch_alter_table("meeting_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meeting_invitations_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meeting_invitations_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "meeting_recordings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("directory", sa.String(length=400), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_meeting_recordings_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_recordings")),
    )
    with op.batch_alter_table("meeting_recordings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meeting_recordings_meeting_id"), ["meeting_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("meeting_recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_recordings_meeting_id"))

    op.drop_table("meeting_recordings")
    with op.batch_alter_table("meeting_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_invitations_user_id"))
        batch_op.drop_index(batch_op.f("ix_meeting_invitations_meeting_id"))

    op.drop_table("meeting_invitations")
    with op.batch_alter_table("meeting_chat", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_chat_meeting_at")

    op.drop_table("meeting_chat")
    with op.batch_alter_table("meeting_attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_attendance_user_id"))
        batch_op.drop_index(batch_op.f("ix_meeting_attendance_meeting_id"))

    op.drop_table("meeting_attendance")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_meetings_number_status")
        batch_op.drop_index("ix_meetings_host_start")

    op.drop_table("meetings")
