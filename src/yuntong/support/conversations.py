"""Conversations and their messages: a visitor's message opens (or reopens) their conversation
and queues it for assignment; the agent it is assigned to answers; agents resolve and reopen.
Every message is written before it is delivered live (``delivery``)."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select, update

from yuntong.accounts.roles import Actor
from yuntong.core.context import Context
from yuntong.core.db import lock_rows
from yuntong.core.errors import YuntongError
from yuntong.support import assignment, delivery, inboxes, rules
from yuntong.support.identity import VisitorToken, attributes_of
from yuntong.support.machine import Action, move_txn
from yuntong.support.models import (
    Agent,
    Conversation,
    ConversationEvent,
    ConversationState,
    Message,
    Visitor,
)
from yuntong.support.views import agent_view, message_out, messages_of, names_of, visitor_view

Listing = Literal["mine", "queue", "open", "resolved"]
MAX_LISTED = 100


async def _latest(ctx: Context, visitor_id: int) -> Conversation | None:
    async with ctx.db.session() as s:
        return (
            await s.execute(
                select(Conversation)
                .where(Conversation.visitor_id == visitor_id)
                .order_by(Conversation.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()


async def _agents_of(ctx: Context, inbox_id: int) -> list[int]:
    async with ctx.db.session() as s:
        return list(
            (await s.execute(select(Agent.user_id).where(Agent.inbox_id == inbox_id))).scalars()
        )


async def _existing(s: Any, conversation_id: int, client_id: str | None) -> Message | None:
    if client_id is None:
        return None
    found: Message | None = (
        await s.execute(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.client_id == client_id
            )
        )
    ).scalar_one_or_none()
    return found


async def do_visitor_message(
    ctx: Context, token: VisitorToken, body: str, client_id: str | None
) -> dict[str, Any]:
    """The visitor writes: into their conversation, opened (or reopened, when resolved) and
    queued for an agent. A message sent again with its ``client_id`` is not written twice."""
    now = ctx.clock.now()
    queued = False
    async with ctx.db.session() as s:
        await lock_rows(s, Visitor, [token.visitor_id])  # one conversation for two tabs
        visitor = await s.get(Visitor, token.visitor_id)
        if visitor is None or visitor.inbox_id != token.inbox_id:
            raise YuntongError("support_visitor_invalid")
        visitor.last_seen_at = now
        conversation = (
            await s.execute(
                select(Conversation)
                .where(Conversation.visitor_id == visitor.id)
                .order_by(Conversation.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if conversation is None:
            conversation = Conversation(
                inbox_id=visitor.inbox_id,
                visitor_id=visitor.id,
                state=ConversationState.OPEN,
                opened_at=now,
                last_message_at=now,
            )
            s.add(conversation)
            await s.flush()
            queued = True
        elif conversation.state == ConversationState.RESOLVED:
            values = {"opened_at": now, "resolved_at": None, "agent_id": None, "assigned_at": None}
            await move_txn(s, conversation, Action.REOPEN, None, now, values=values)
            queued = True
        message = await _existing(s, conversation.id, client_id)
        if message is None:
            message = Message(
                conversation_id=conversation.id,
                sender="visitor",
                body=body,
                client_id=client_id,
                created_at=now,
            )
            s.add(message)
            await s.flush()
            await s.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(last_message_at=now)
            )
    out = message_out(message, {})
    await _deliver(ctx, conversation, out)
    if queued:
        await assignment.announce(ctx, conversation.inbox_id, [conversation.id])
        await assignment.do_assign_waiting(ctx, conversation.inbox_id)
    return out


async def _deliver(ctx: Context, conversation: Conversation, out: dict[str, Any]) -> None:
    data = {"conversation_id": conversation.id, "message": out}
    await delivery.to_visitor(ctx, conversation.visitor_id, "support.message", data)
    await delivery.to_agents(
        ctx, await _agents_of(ctx, conversation.inbox_id), "support.message", data
    )


async def _conversation(ctx: Context, actor: Actor, conversation_id: int) -> Conversation:
    """The conversation, if the actor answers in (or manages) its inbox."""
    async with ctx.db.session() as s:
        conversation = await s.get(Conversation, conversation_id)
    if conversation is None:
        raise YuntongError("support_conversation_not_found")
    await inboxes.check_agent(ctx, actor, conversation.inbox_id)
    return conversation


async def do_agent_message(
    ctx: Context, actor: Actor, conversation_id: int, body: str, client_id: str | None
) -> dict[str, Any]:
    """The agent a conversation is assigned to answers it."""
    await _conversation(ctx, actor, conversation_id)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        await lock_rows(s, Conversation, [conversation_id])  # not while it is transferred
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        rules.check_may_reply(conversation, actor.user_id)
        message = await _existing(s, conversation.id, client_id)
        if message is None:
            message = Message(
                conversation_id=conversation.id,
                sender="agent",
                author_id=actor.user_id,
                body=body,
                client_id=client_id,
                created_at=now,
            )
            s.add(message)
            await s.flush()
            conversation.last_message_at = now
    out = message_out(message, await names_of(ctx, {actor.user_id}))
    await _deliver(ctx, conversation, out)
    return out


async def do_resolve(ctx: Context, actor: Actor, conversation_id: int) -> Conversation:
    conversation = await _conversation(ctx, actor, conversation_id)
    rules.check_may_resolve(conversation, actor.user_id)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        moved = await move_txn(
            s, conversation, Action.RESOLVE, actor.user_id, now, values={"resolved_at": now}
        )
    if not moved:
        raise YuntongError("support_conversation_changed")
    conversation.state = ConversationState.RESOLVED
    await assignment.announce(ctx, conversation.inbox_id, [conversation.id])
    await assignment.do_assign_waiting(ctx, conversation.inbox_id)  # capacity freed
    return conversation


async def do_reopen(ctx: Context, actor: Actor, conversation_id: int) -> Conversation:
    """Back to the queue (and to whoever is free)."""
    conversation = await _conversation(ctx, actor, conversation_id)
    rules.check_may_reopen(conversation)
    now = ctx.clock.now()
    values = {"opened_at": now, "resolved_at": None, "agent_id": None, "assigned_at": None}
    async with ctx.db.session() as s:
        moved = await move_txn(s, conversation, Action.REOPEN, actor.user_id, now, values=values)
    if not moved:
        raise YuntongError("support_conversation_changed")
    await assignment.announce(ctx, conversation.inbox_id, [conversation.id])
    await assignment.do_assign_waiting(ctx, conversation.inbox_id)
    return conversation


# --- what agents read ---------------------------------------------------------------------


def _visitor_summary(ctx: Context, visitor: Visitor) -> dict[str, Any]:
    attributes = attributes_of(ctx, visitor)
    name = attributes.get("name")
    return {
        "id": visitor.id,
        "verified": visitor.external_id is not None,
        "external_id": visitor.external_id,
        "name": str(name) if name else None,
        "attributes": attributes,
    }


async def conversations_for(
    ctx: Context, actor: Actor, listing: Listing, inbox_id: int | None = None
) -> list[dict[str, Any]]:
    """The workspace's list: the actor's own, the queue, everything open, or resolved ones,
    of the inboxes the actor answers in (newest activity first)."""
    inbox_ids = [i.id for i in await inboxes.inboxes_of(ctx, actor)]
    if inbox_id is not None:
        if inbox_id not in inbox_ids:
            raise YuntongError("forbidden")
        inbox_ids = [inbox_id]
    query = select(Conversation, Visitor).join(Visitor, Visitor.id == Conversation.visitor_id)
    query = query.where(Conversation.inbox_id.in_(inbox_ids))
    if listing == "mine":
        query = query.where(
            Conversation.agent_id == actor.user_id,
            Conversation.state == ConversationState.ASSIGNED,
        )
    elif listing == "queue":
        query = query.where(Conversation.state == ConversationState.OPEN)
    elif listing == "open":
        query = query.where(Conversation.state != ConversationState.RESOLVED)
    else:
        query = query.where(Conversation.state == ConversationState.RESOLVED)
    query = query.order_by(Conversation.last_message_at.desc()).limit(MAX_LISTED)
    async with ctx.db.session() as s:
        rows = (await s.execute(query)).all()
    names = await names_of(ctx, {c.agent_id for c, _ in rows if c.agent_id})
    return [
        agent_view(c, _visitor_summary(ctx, v), names.get(c.agent_id or 0), None, actor.user_id)
        for c, v in rows
    ]


async def conversation_detail(ctx: Context, actor: Actor, conversation_id: int) -> dict[str, Any]:
    """One conversation for the workspace: the view, its messages, and its trail (with
    transfer notes)."""
    conversation = await _conversation(ctx, actor, conversation_id)
    async with ctx.db.session() as s:
        visitor = await s.get(Visitor, conversation.visitor_id)
        events = list(
            (
                await s.execute(
                    select(ConversationEvent)
                    .where(ConversationEvent.conversation_id == conversation_id)
                    .order_by(ConversationEvent.id)
                )
            ).scalars()
        )
    assert visitor is not None
    names = await names_of(
        ctx,
        {conversation.agent_id or 0}
        | {e.actor_id for e in events if e.actor_id}
        | {int(e.detail.get("to") or 0) for e in events},
    )
    view = agent_view(
        conversation,
        _visitor_summary(ctx, visitor),
        names.get(conversation.agent_id or 0),
        None,
        actor.user_id,
    )
    view["messages"] = await messages_of(ctx, conversation_id, ctx.settings.support_history_limit)
    view["events"] = [
        {
            "at": e.at.isoformat(),
            "action": e.action,
            "actor": names.get(e.actor_id or 0),
            "to": names.get(int(e.detail.get("to") or 0)),
            "note": e.detail.get("note"),
            "reason": e.detail.get("reason"),
        }
        for e in events
    ]
    return view


# --- what the widget reads ----------------------------------------------------------------


async def widget_state(ctx: Context, token: VisitorToken, after_id: int = 0) -> dict[str, Any]:
    """The visitor's conversation (with the queue when waiting) and its messages."""
    conversation = await _latest(ctx, token.visitor_id)
    messages: list[dict[str, Any]] = []
    if conversation is not None:
        messages = await messages_of(
            ctx, conversation.id, ctx.settings.support_history_limit, after_id
        )
    return {
        "visitor_id": token.visitor_id,
        "conversation": await visitor_view(ctx, conversation),
        "messages": messages,
    }
