"""phone-number resources: the inventory with each number's source, and its trail (CP 1.1, 2.4)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 10:03:12.677917
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuntong.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "number_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(length=60), nullable=False),
        sa.Column("source_ref", sa.String(length=120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=True),
        sa.Column("city", sa.String(length=40), nullable=True),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_number_blocks_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_blocks")),
    )
    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("national", sa.String(length=16), nullable=False),
        sa.Column("national_reversed", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=True),
        sa.Column("city", sa.String(length=40), nullable=True),
        sa.Column("province_en", sa.String(length=60), nullable=True),
        sa.Column("city_en", sa.String(length=60), nullable=True),
        sa.Column("carrier", sa.String(length=60), nullable=False),
        sa.Column("current_carrier", sa.String(length=60), nullable=False),
        sa.Column("ported", sa.Boolean(), nullable=False),
        sa.Column("pattern", sa.String(length=20), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("state_changed_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reserved_by", sa.Integer(), nullable=True),
        sa.Column("reserved_until", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("quarantine_until", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("holder_organisation_id", sa.Integer(), nullable=True),
        sa.Column("holder_user_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["billing_accounts.id"],
            name=op.f("fk_phone_numbers_account_id_billing_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["block_id"], ["number_blocks.id"], name=op.f("fk_phone_numbers_block_id_number_blocks")
        ),
        sa.ForeignKeyConstraint(
            ["holder_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_phone_numbers_holder_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_user_id"], ["users.id"], name=op.f("fk_phone_numbers_holder_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reserved_by"], ["users.id"], name=op.f("fk_phone_numbers_reserved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_phone_numbers_subscription_id_subscriptions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_phone_numbers_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint("e164", name=op.f("uq_phone_numbers_e164")),
    )
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_phone_numbers_holder_org", ["holder_organisation_id"], unique=False
        )
        batch_op.create_index("ix_phone_numbers_holder_user", ["holder_user_id"], unique=False)
        batch_op.create_index("ix_phone_numbers_national", ["national"], unique=False)
        batch_op.create_index("ix_phone_numbers_pattern", ["state", "pattern"], unique=False)
        batch_op.create_index("ix_phone_numbers_reversed", ["national_reversed"], unique=False)
        batch_op.create_index(
            "ix_phone_numbers_search", ["state", "province", "city", "national"], unique=False
        )
        batch_op.create_index("ix_phone_numbers_user", ["user_id"], unique=False)

    op.create_table(
        "number_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("at", yuntong.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=True),
        sa.Column("to_state", sa.String(length=12), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_number_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["phone_numbers.id"],
            name=op.f("fk_number_events_number_id_phone_numbers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_events")),
    )
    with op.batch_alter_table("number_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_number_events_number_id"), ["number_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("number_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_number_events_number_id"))

    op.drop_table("number_events")
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_phone_numbers_user")
        batch_op.drop_index("ix_phone_numbers_search")
        batch_op.drop_index("ix_phone_numbers_reversed")
        batch_op.drop_index("ix_phone_numbers_pattern")
        batch_op.drop_index("ix_phone_numbers_national")
        batch_op.drop_index("ix_phone_numbers_holder_user")
        batch_op.drop_index("ix_phone_numbers_holder_org")

    op.drop_table("phone_numbers")
    op.drop_table("number_blocks")
