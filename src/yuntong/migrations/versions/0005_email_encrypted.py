"""e-mail addresses encrypted: users' and meeting invitees' addresses as ciphertext + blind index

Until now ``users.email`` and ``meeting_invitations.email`` held addresses in clear. Each
becomes ``email_enc`` (AES-GCM under the PII key ring, bound to ``user:email`` or
``meeting_invitation:email``) and ``email_index`` (the keyed blind index of the normalised
address, ``PiiCipher.email_index``): unique for users, which log in and are looked up by it.

Moving the existing addresses needs the key ring. Alembic knows only the database URL, so the
``yuntong`` command hands the cipher over in ``config.attributes["pii_cipher"]``
(``yuntong.core.migrate.upgrade(url, cipher=...)``, as ``yuntong serve`` and
``yuntong db upgrade`` do). Without it the migration refuses, before changing anything, when
there is an address to move; a database without addresses needs no keys. On PostgreSQL the
whole migration is one transaction; SQLite's driver commits each schema change as it goes,
which is why the key ring is checked before the first one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from yuntong.core.crypto import PiiCipher, normalise_email

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → the associated data its ciphertexts are bound to
_CONTEXTS = {"users": "user:email", "meeting_invitations": "meeting_invitation:email"}


def _table(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("id", sa.Integer),
        sa.column("email", sa.String),
        sa.column("email_enc", sa.Text),
        sa.column("email_index", sa.String),
    )


def _cipher(needed_for: str) -> PiiCipher:
    config = op.get_context().config
    cipher = None if config is None else config.attributes.get("pii_cipher")
    if not isinstance(cipher, PiiCipher):
        raise RuntimeError(
            f"migration 0005 {needed_for} and needs the PII key ring: run it with "
            "`yuntong db upgrade` (or yuntong.core.migrate.upgrade(url, cipher=...))"
        )
    return cipher


def _has_rows(table: str, column: str) -> bool:
    t = sa.table(table, sa.column(column))
    query = sa.select(sa.literal(1)).select_from(t).where(t.c[column].is_not(None)).limit(1)
    return op.get_bind().execute(query).first() is not None


def upgrade() -> None:
    tables = list(_CONTEXTS)
    cipher = None
    if any(_has_rows(name, "email") for name in tables):  # before any change to the schema
        cipher = _cipher("encrypts the e-mail addresses stored in clear")
    for name in tables:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("email_enc", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("email_index", sa.String(length=64), nullable=True))
    if cipher is not None:
        bind = op.get_bind()
        for name, context in _CONTEXTS.items():
            t = _table(name)
            rows = bind.execute(sa.select(t.c.id, t.c.email).where(t.c.email.is_not(None)))
            sealed: list[dict[str, Any]] = []
            for row_id, email in rows.all():
                address = normalise_email(email)
                sealed.append(
                    {
                        "row_id": row_id,
                        "enc": cipher.encrypt(address, context=context),
                        "idx": cipher.email_index(address),
                    }
                )
            if sealed:
                bind.execute(
                    t.update()
                    .where(t.c.id == sa.bindparam("row_id"))
                    .values(email_enc=sa.bindparam("enc"), email_index=sa.bindparam("idx")),
                    sealed,
                )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_email"), type_="unique")
        batch_op.drop_column("email")
        batch_op.create_unique_constraint(batch_op.f("uq_users_email_index"), ["email_index"])
    with op.batch_alter_table("meeting_invitations", schema=None) as batch_op:
        batch_op.drop_column("email")


def downgrade() -> None:
    tables = list(_CONTEXTS)
    cipher = None
    if any(_has_rows(name, "email_enc") for name in tables):
        cipher = _cipher("puts the encrypted e-mail addresses back in clear")
    for name in tables:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    if cipher is not None:
        bind = op.get_bind()
        for name, context in _CONTEXTS.items():
            t = _table(name)
            query = sa.select(t.c.id, t.c.email_enc).where(t.c.email_enc.is_not(None))
            opened = [
                {"row_id": row_id, "clear": cipher.decrypt(token, context=context)}
                for row_id, token in bind.execute(query).all()
            ]
            if opened:
                bind.execute(
                    t.update()
                    .where(t.c.id == sa.bindparam("row_id"))
                    .values(email=sa.bindparam("clear")),
                    opened,
                )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_email_index"), type_="unique")
        batch_op.drop_column("email_index")
        batch_op.drop_column("email_enc")
        batch_op.create_unique_constraint(batch_op.f("uq_users_email"), ["email"])
    with op.batch_alter_table("meeting_invitations", schema=None) as batch_op:
        batch_op.drop_column("email_index")
        batch_op.drop_column("email_enc")
