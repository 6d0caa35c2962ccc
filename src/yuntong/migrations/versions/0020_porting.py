"""porting (携号转网): port-in requests and their trail, port-out authorisation codes

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 14:16:19.661528
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "port_out_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_ref", sa.String(length=64), nullable=True),
        sa.Column("gaining_carrier", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_port_out_codes_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["phone_numbers.id"],
            name=op.f("fk_port_out_codes_number_id_phone_numbers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_port_out_codes")),
    )
    with op.batch_alter_table("port_out_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_port_out_codes_number_id"), ["number_id"], unique=False
        )

    op.create_table(
        "port_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=24), nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("open_e164", sa.String(length=20), nullable=True),
        sa.Column("losing_carrier", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("filed_by", sa.Integer(), nullable=True),
        sa.Column("document_name", sa.String(length=80), nullable=False),
        sa.Column("document_type", sa.String(length=40), nullable=False),
        sa.Column("document_bytes", sa.Integer(), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("carrier_answer_id", sa.String(length=64), nullable=True),
        sa.Column("carrier_answer", sa.JSON(), nullable=True),
        sa.Column("checks_passed", sa.Boolean(), nullable=False),
        sa.Column("porting_date", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("number_id", sa.Integer(), nullable=True),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["users.id"], name=op.f("fk_port_requests_customer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["filed_by"], ["users.id"], name=op.f("fk_port_requests_filed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["phone_numbers.id"],
            name=op.f("fk_port_requests_number_id_phone_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_port_requests_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_port_requests")),
        sa.UniqueConstraint("open_e164", name=op.f("uq_port_requests_open_e164")),
        sa.UniqueConstraint("ref", name=op.f("uq_port_requests_ref")),
    )
    with op.batch_alter_table("port_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_port_requests_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_port_requests_e164"), ["e164"], unique=False)

    op.create_table(
        "port_request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=True),
        sa.Column("to_state", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_port_request_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["port_requests.id"],
            name=op.f("fk_port_request_events_request_id_port_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_port_request_events")),
    )
    with op.batch_alter_table("port_request_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_port_request_events_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("port_request_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_port_request_events_request_id"))

    op.drop_table("port_request_events")
    with op.batch_alter_table("port_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_port_requests_e164"))
        batch_op.drop_index(batch_op.f("ix_port_requests_customer_id"))

    op.drop_table("port_requests")
    with op.batch_alter_table("port_out_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_port_out_codes_number_id"))

    op.drop_table("port_out_codes")
