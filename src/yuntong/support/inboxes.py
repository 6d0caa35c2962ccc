"""Inboxes and their agents: an organisation's administrator (or operator staff) makes an inbox
per site, with the origins its widget may run on, its identity secret (generated, shown once,
rotatable), anonymous visitors allowed or not, and the pre-chat form; and gives users of the
organisation, or operator staff, an agent's place in it with a capacity."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select

from yuntong.accounts import directory, roles
from yuntong.accounts.models import Role, User
from yuntong.accounts.roles import Actor
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.support.models import Agent, Inbox, Routing

MAX_ORIGINS = 20
MAX_CAPACITY = 50
SECRET_CONTEXT = "support_inboxes.secret"  # noqa: S105  (the AES-GCM associated data, no secret)


def normalise_origin(text: str) -> str:
    """``https://Www.Example.edu/`` → ``https://www.example.edu``; ``validation_failed``
    for anything but an http(s) origin."""
    parts = urlsplit(text.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise YuntongError("validation_failed", fields={"origins": "invalid"})
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def check_may_manage(actor: Actor, inbox: Inbox) -> None:
    """Operator administrators, and the administrator of the inbox's organisation."""
    if actor.role == Role.OPERATOR_ADMIN:
        return
    if actor.role == Role.ORG_ADMIN and actor.organisation_id == inbox.organisation_id:
        return
    raise YuntongError("forbidden")


def check_may_create(actor: Actor, organisation_id: int | None) -> int:
    """The organisation an inbox is made for: the actor's own (organisation administrators),
    or the one named (operator administrators)."""
    if actor.role == Role.ORG_ADMIN and actor.organisation_id is not None:
        if organisation_id not in (None, actor.organisation_id):
            raise YuntongError("forbidden")
        return actor.organisation_id
    if actor.role == Role.OPERATOR_ADMIN and organisation_id is not None:
        return organisation_id
    if actor.role == Role.OPERATOR_ADMIN:
        raise YuntongError("validation_failed", fields={"organisation_id": "required"})
    raise YuntongError("forbidden")


def check_may_be_agent(user: User, inbox: Inbox) -> None:
    """Members of the inbox's organisation, and operator staff."""
    if user.organisation_id == inbox.organisation_id or roles.is_staff(user):
        return
    raise YuntongError("support_agent_outsider")


@dataclass(frozen=True)
class InboxSettings:
    name: str
    origins: list[str]
    allow_anonymous: bool
    prechat_fields: list[dict[str, Any]]
    routing: Routing


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


async def inbox_by_id(ctx: Context, inbox_id: int) -> Inbox:
    async with ctx.db.session() as s:
        inbox = await s.get(Inbox, inbox_id)
    if inbox is None:
        raise YuntongError("support_inbox_not_found")
    return inbox


async def inbox_by_key(ctx: Context, key: str) -> Inbox:
    async with ctx.db.session() as s:
        inbox = (await s.execute(select(Inbox).where(Inbox.key == key))).scalar_one_or_none()
    if inbox is None:
        raise YuntongError("support_inbox_not_found")
    return inbox


async def do_create_inbox(
    ctx: Context, actor: Actor, settings: InboxSettings, organisation_id: int | None = None
) -> tuple[Inbox, str]:
    """A new inbox and its identity secret (the only time the secret is shown)."""
    org = check_may_create(actor, organisation_id)
    await directory.get_organisation(ctx, org)
    secret = _new_secret()
    async with ctx.db.session() as s:
        inbox = Inbox(
            key=secrets.token_urlsafe(12),
            organisation_id=org,
            name=settings.name,
            origins=[normalise_origin(o) for o in settings.origins],
            secret_enc=ctx.cipher.encrypt(secret, context=SECRET_CONTEXT),
            allow_anonymous=settings.allow_anonymous,
            prechat_fields=settings.prechat_fields,
            routing=settings.routing.value,
            created_by=actor.user_id,
            created_at=ctx.clock.now(),
        )
        s.add(inbox)
    return inbox, secret


async def do_update_inbox(
    ctx: Context, actor: Actor, inbox_id: int, settings: InboxSettings
) -> Inbox:
    async with ctx.db.session() as s:
        inbox = await s.get(Inbox, inbox_id)
        if inbox is None:
            raise YuntongError("support_inbox_not_found")
        check_may_manage(actor, inbox)
        inbox.name = settings.name
        inbox.origins = [normalise_origin(o) for o in settings.origins]
        inbox.allow_anonymous = settings.allow_anonymous
        inbox.prechat_fields = settings.prechat_fields
        inbox.routing = settings.routing.value
    return inbox


async def do_rotate_secret(ctx: Context, actor: Actor, inbox_id: int) -> str:
    """A new identity secret: signatures under the old one are refused from now on."""
    secret = _new_secret()
    async with ctx.db.session() as s:
        inbox = await s.get(Inbox, inbox_id)
        if inbox is None:
            raise YuntongError("support_inbox_not_found")
        check_may_manage(actor, inbox)
        inbox.secret_enc = ctx.cipher.encrypt(secret, context=SECRET_CONTEXT)
    return secret


async def inboxes_of(ctx: Context, actor: Actor) -> list[Inbox]:
    """The inboxes the actor manages or answers in."""
    async with ctx.db.session() as s:
        query = select(Inbox).order_by(Inbox.id)
        if actor.role != Role.OPERATOR_ADMIN:
            agent_of = select(Agent.inbox_id).where(Agent.user_id == actor.user_id)
            mine = Inbox.id.in_(agent_of)
            if actor.role == Role.ORG_ADMIN and actor.organisation_id is not None:
                query = query.where(or_(mine, Inbox.organisation_id == actor.organisation_id))
            else:
                query = query.where(mine)
        return list((await s.execute(query)).scalars())


async def agents_of(ctx: Context, inbox_id: int) -> list[Agent]:
    async with ctx.db.session() as s:
        query = select(Agent).where(Agent.inbox_id == inbox_id).order_by(Agent.id)
        return list((await s.execute(query)).scalars())


async def do_set_agent(
    ctx: Context, actor: Actor, inbox_id: int, username: str, capacity: int
) -> Agent:
    """Make ``username`` an agent of the inbox with ``capacity`` (or change their capacity)."""
    inbox = await inbox_by_id(ctx, inbox_id)
    check_may_manage(actor, inbox)
    user = await directory.find_user_by_username(ctx, username)
    check_may_be_agent(user, inbox)
    async with ctx.db.session() as s:
        agent = (
            await s.execute(
                select(Agent).where(Agent.inbox_id == inbox_id, Agent.user_id == user.id)
            )
        ).scalar_one_or_none()
        if agent is None:
            agent = Agent(
                inbox_id=inbox_id, user_id=user.id, capacity=capacity, created_at=ctx.clock.now()
            )
            s.add(agent)
        else:
            agent.capacity = capacity
    return agent


async def do_remove_agent(ctx: Context, actor: Actor, inbox_id: int, user_id: int) -> None:
    inbox = await inbox_by_id(ctx, inbox_id)
    check_may_manage(actor, inbox)
    async with ctx.db.session() as s:
        agent = (
            await s.execute(
                select(Agent).where(Agent.inbox_id == inbox_id, Agent.user_id == user_id)
            )
        ).scalar_one_or_none()
        if agent is None:
            raise YuntongError("support_agent_not_found")
        await s.delete(agent)


async def check_agent(ctx: Context, actor: Actor, inbox_id: int) -> None:
    """``forbidden`` unless the actor answers in (or manages) the inbox."""
    async with ctx.db.session() as s:
        found = (
            await s.execute(
                select(Agent.id).where(Agent.inbox_id == inbox_id, Agent.user_id == actor.user_id)
            )
        ).first()
        inbox = await s.get(Inbox, inbox_id)
    if found is not None:
        return
    if inbox is None:
        raise YuntongError("support_inbox_not_found")
    check_may_manage(actor, inbox)


def secret_of(ctx: Context, inbox: Inbox) -> str:
    return ctx.cipher.decrypt(inbox.secret_enc, context=SECRET_CONTEXT)
