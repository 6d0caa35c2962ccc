"""SIP credentials of a number: issued and rotated by whoever the number rings or holds,
shown once; the registrar asks for the HA1 of a username (docs/sip.md)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from yuntong.accounts import audit
from yuntong.accounts.roles import Actor
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers.assignment import check_holder
from yuntong.numbers.models import NumberState, PhoneNumber
from yuntong.numbers.selection import number_row
from yuntong.sip import edge
from yuntong.sip.models import SipCredential

HA1_CONTEXT = "sip.ha1"
PASSWORD_BYTES = 15  # 20 URL-safe characters


@dataclass(frozen=True)
class IssuedCredential:
    number: str
    username: str
    password: str  # shown once
    domain: str
    registrar: str  # host:port phones register with
    transports: tuple[str, ...]


def username_of(e164: str) -> str:
    return e164.lstrip("+")


def ha1(username: str, realm: str, password: str) -> str:
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def sip_domain(ctx: Context) -> str:
    return ctx.settings.sip_domain or "yuntong.local"


def check_may_manage(actor: Actor, row: PhoneNumber) -> None:
    """The user the number rings, its holder or the holding organisation's administrator."""
    if row.state != NumberState.ASSIGNED:
        raise YuntongError("number_not_found")
    if row.user_id is not None and row.user_id == actor.user_id:
        return
    check_holder(actor, row)


async def do_issue(ctx: Context, actor: Actor, number: str) -> IssuedCredential:
    """New credentials for ``number`` (the old password stops working at once)."""
    row = await number_row(ctx, number)
    check_may_manage(actor, row)
    if row.user_id is None:
        raise YuntongError("sip_number_not_assigned")
    username = username_of(row.e164)
    realm = sip_domain(ctx)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    sealed = ctx.cipher.encrypt(ha1(username, realm, password), context=HA1_CONTEXT)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        found = (
            await s.execute(select(SipCredential).where(SipCredential.number_id == row.id))
        ).scalar_one_or_none()
        if found is None:
            s.add(
                SipCredential(
                    number_id=row.id,
                    username=username,
                    realm=realm,
                    ha1_enc=sealed,
                    user_id=row.user_id,
                    created_at=now,
                    rotated_at=now,
                )
            )
        else:
            found.realm, found.ha1_enc, found.rotated_at = realm, sealed, now
            found.user_id = row.user_id
        await audit.add(
            s,
            now,
            actor.user_id,
            "sip.credentials_issued",
            row.user_id,
            number_id=row.id,
            rotated=found is not None,
        )
    await edge.forget_credentials(ctx, username)
    settings = ctx.settings
    return IssuedCredential(
        number=row.e164,
        username=username,
        password=password,
        domain=realm,
        registrar=f"{settings.sip_public_host or realm}:{settings.sip_port}",
        transports=("udp", "tcp") + (("tls",) if settings.sip_tls_port else ()),
    )


async def do_revoke(ctx: Context, actor: Actor, number: str) -> None:
    row = await number_row(ctx, number)
    check_may_manage(actor, row)
    async with ctx.db.session() as s:
        found = (
            await s.execute(select(SipCredential).where(SipCredential.number_id == row.id))
        ).scalar_one_or_none()
        if found is None:
            raise YuntongError("sip_credentials_not_found")
        await s.delete(found)
        await audit.add(
            s,
            ctx.clock.now(),
            actor.user_id,
            "sip.credentials_revoked",
            row.user_id,
            number_id=row.id,
        )
    await edge.forget_credentials(ctx, username_of(row.e164))


async def ha1_of(ctx: Context, username: str) -> str | None:
    """The HA1 of a username, if its number is still assigned to the user it was issued for."""
    query = (
        select(SipCredential.ha1_enc, SipCredential.realm)
        .join(PhoneNumber, PhoneNumber.id == SipCredential.number_id)
        .where(
            SipCredential.username == username,
            PhoneNumber.state == NumberState.ASSIGNED,
            PhoneNumber.user_id == SipCredential.user_id,
        )
    )
    async with ctx.db.connection() as conn:
        row = (await conn.execute(query)).first()
    if row is None or row[1] != sip_domain(ctx):
        return None
    return ctx.cipher.decrypt(str(row[0]), context=HA1_CONTEXT)


async def credential_of(ctx: Context, actor: Actor, number: str) -> SipCredential | None:
    row = await number_row(ctx, number)
    check_may_manage(actor, row)
    async with ctx.db.session() as s:
        return (
            await s.execute(select(SipCredential).where(SipCredential.number_id == row.id))
        ).scalar_one_or_none()
