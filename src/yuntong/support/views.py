"""What visitors and agents are shown of a conversation: its messages, and for a waiting
visitor the queue position and the expected wait (told to the visitor, which most desks do
not). The expected wait is the position times the average wait of the inbox's last
conversations to be assigned (``support_default_wait_s`` while there are none)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from yuntong.accounts import directory
from yuntong.core.context import Context
from yuntong.core.errors import allows
from yuntong.support import rules
from yuntong.support.models import Agent, Conversation, ConversationState, Message
from yuntong.support.presence import statuses_of

RECENT_ASSIGNED = 20
ANSWERING = ("online", "busy")


async def names_of(ctx: Context, user_ids: set[int]) -> dict[int, str]:
    users = await directory.get_users(ctx, {u for u in user_ids if u})
    return {user_id: user.display_name for user_id, user in users.items()}


def message_out(message: Message, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender": message.sender,
        "author": names.get(message.author_id or 0),
        "body": message.body,
        "client_id": message.client_id,
        "created_at": message.created_at.isoformat(),
    }


async def messages_of(
    ctx: Context, conversation_id: int, limit: int, after_id: int = 0
) -> list[dict[str, Any]]:
    """The conversation's last ``limit`` messages after ``after_id``, oldest first."""
    async with ctx.db.session() as s:
        query = (
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after_id)
            .order_by(Message.id.desc())
            .limit(limit)
        )
        rows = list(reversed((await s.execute(query)).scalars().all()))
    names = await names_of(ctx, {m.author_id for m in rows if m.author_id})
    return [message_out(m, names) for m in rows]


async def queue_of(ctx: Context, conversation: Conversation) -> dict[str, Any]:
    """A waiting conversation's place: ``position`` (1: next), ``wait_s`` (None when nobody
    answers now) and ``agents_online``."""
    async with ctx.db.session() as s:
        ahead = await s.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(
                Conversation.inbox_id == conversation.inbox_id,
                Conversation.state == ConversationState.OPEN,
                (Conversation.opened_at < conversation.opened_at)
                | (
                    (Conversation.opened_at == conversation.opened_at)
                    & (Conversation.id < conversation.id)
                ),
            )
        )
        recent = (
            await s.execute(
                select(Conversation.opened_at, Conversation.assigned_at)
                .where(
                    Conversation.inbox_id == conversation.inbox_id,
                    Conversation.assigned_at.is_not(None),
                )
                .order_by(Conversation.assigned_at.desc())
                .limit(RECENT_ASSIGNED)
            )
        ).all()
        agent_ids = list(
            (await s.execute(select(Agent.user_id).where(Agent.inbox_id == conversation.inbox_id)))
            .scalars()
            .all()
        )
    statuses = await statuses_of(ctx, agent_ids)
    answering = sum(1 for status in statuses.values() if status in ANSWERING)
    position = int(ahead or 0) + 1
    return {
        "position": position,
        "wait_s": expected_wait_s(list(recent), position, ctx.settings.support_default_wait_s)
        if answering
        else None,
        "agents_online": answering,
    }


def expected_wait_s(recent: list[Any], position: int, default_s: int) -> int:
    """``position`` times the average wait of ``recent`` (opened_at, assigned_at) pairs."""
    waits = [
        (assigned - opened).total_seconds()
        for opened, assigned in recent
        if isinstance(assigned, datetime) and isinstance(opened, datetime)
    ]
    each = sum(waits) / len(waits) if waits else default_s
    return max(1, round(each * position))


async def visitor_view(ctx: Context, conversation: Conversation | None) -> dict[str, Any] | None:
    """What the widget shows of the visitor's conversation (never the agent's account)."""
    if conversation is None:
        return None
    agent = None
    if conversation.agent_id is not None:
        agent = (await names_of(ctx, {conversation.agent_id})).get(conversation.agent_id)
    return {
        "id": conversation.id,
        "state": conversation.state,
        "agent": agent,
        "queue": await queue_of(ctx, conversation)
        if conversation.state == ConversationState.OPEN
        else None,
    }


def agent_view(
    conversation: Conversation,
    visitor: dict[str, Any],
    agent_name: str | None,
    last: dict[str, Any] | None,
    actor_id: int,
) -> dict[str, Any]:
    """A conversation in the workspace: what it is and what the agent may do with it."""
    return {
        "id": conversation.id,
        "inbox_id": conversation.inbox_id,
        "state": conversation.state,
        "agent_id": conversation.agent_id,
        "agent": agent_name,
        "visitor": visitor,
        "opened_at": conversation.opened_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat(),
        "last_message": last,
        "can_reply": allows(lambda: rules.check_may_reply(conversation, actor_id)),
        "can_resolve": allows(lambda: rules.check_may_resolve(conversation, actor_id)),
        "can_reopen": allows(lambda: rules.check_may_reopen(conversation)),
        "can_transfer": allows(lambda: rules.check_may_transfer(conversation, actor_id)),
    }
