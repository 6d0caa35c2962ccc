"""sip edge: credentials of numbers, records of SIP calls

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = yuntong.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sip_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=20), nullable=False),
        sa.Column("realm", sa.String(length=120), nullable=False),
        sa.Column("ha1_enc", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("rotated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["phone_numbers.id"],
            name=op.f("fk_sip_credentials_number_id_phone_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sip_credentials_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_credentials")),
        sa.UniqueConstraint("number_id", name=op.f("uq_sip_credentials_number_id")),
        sa.UniqueConstraint("username", name=op.f("uq_sip_credentials_username")),
    )
    op.create_table(
        "sip_calls",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sip_call_id", sa.String(length=200), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("trunk", sa.String(length=40), nullable=True),
        sa.Column("caller_user_id", sa.Integer(), nullable=True),
        sa.Column("callee_user_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("calling_number", sa.String(length=20), nullable=True),
        sa.Column("called_number", sa.String(length=20), nullable=True),
        sa.Column("withheld", sa.Boolean(), nullable=False),
        sa.Column("route", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("final_code", sa.Integer(), nullable=True),
        sa.Column("cause", sa.Integer(), nullable=True),
        sa.Column("pdd_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("billable_seconds", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["caller_user_id"], ["users.id"], name=op.f("fk_sip_calls_caller_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["callee_user_id"], ["users.id"], name=op.f("fk_sip_calls_callee_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing_accounts.id"],
            name=op.f("fk_sip_calls_account_id_billing_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_calls")),
        sa.UniqueConstraint("sip_call_id", name=op.f("uq_sip_calls_sip_call_id")),
    )
    op.create_index("ix_sip_calls_created", "sip_calls", ["created_at"])
    op.create_index("ix_sip_calls_caller_created", "sip_calls", ["caller_user_id", "created_at"])
    op.create_index("ix_sip_calls_callee_created", "sip_calls", ["callee_user_id", "created_at"])
    op.create_index("ix_sip_calls_open", "sip_calls", ["ended_at"])


def downgrade() -> None:
    op.drop_table("sip_calls")
    op.drop_table("sip_credentials")
