"""Automatic assignment: waiting conversations go, oldest first, to agents who are online with
free capacity — round robin (the one assigned longest ago) or least busy — and never to one
who is offline, away or busy. An agent who goes away or offline has their conversations put
back first in line and given to others; a manual transfer (with a note) moves one at once.

One inbox's assignments are serialised across nodes by holding the inbox's row for the
transaction (``core.db.lock_rows``), so two nodes cannot give one agent more than their
capacity; the conversation's move itself is conditional (``machine.move_txn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from yuntong.accounts.auth import Principal
from yuntong.accounts.roles import Actor
from yuntong.cluster.nodes import node_of
from yuntong.core.context import Context
from yuntong.core.db import lock_rows
from yuntong.core.errors import YuntongError
from yuntong.realtime.connection import hub_of
from yuntong.support import delivery, inboxes, presence, rules
from yuntong.support.machine import Action, move_txn
from yuntong.support.models import (
    Agent,
    AgentStatus,
    Conversation,
    ConversationState,
    Inbox,
    Routing,
)
from yuntong.support.views import visitor_view

NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    """An agent of the inbox as assignment sees them."""

    user_id: int
    status: str  # effective: offline | online | busy | away
    load: int  # conversations assigned to them in the inbox
    capacity: int
    last_assigned_at: datetime | None


def choose(candidates: Sequence[Candidate], routing: str) -> Candidate | None:
    """The agent the next waiting conversation goes to; None when nobody is free."""
    free = [c for c in candidates if c.status == AgentStatus.ONLINE and c.load < c.capacity]
    if not free:
        return None
    if routing == Routing.LEAST_BUSY:
        return min(free, key=lambda c: (c.load, c.last_assigned_at or NEVER, c.user_id))
    return min(free, key=lambda c: (c.last_assigned_at or NEVER, c.user_id))


async def _statuses(ctx: Context, inbox_id: int) -> dict[int, str]:
    """The inbox's agents' effective statuses."""
    async with ctx.db.session() as s:
        user_ids = list(
            (await s.execute(select(Agent.user_id).where(Agent.inbox_id == inbox_id))).scalars()
        )
    return await presence.statuses_of(ctx, user_ids)


async def do_assign_waiting(ctx: Context, inbox_id: int) -> list[int]:
    """Give the inbox's waiting conversations to free agents; the ids of those assigned."""
    statuses = await _statuses(ctx, inbox_id)
    if AgentStatus.ONLINE not in statuses.values():
        return []
    now = ctx.clock.now()
    assigned: list[int] = []
    async with ctx.db.session() as s:
        await lock_rows(s, Inbox, [inbox_id])  # read what other nodes committed, then decide
        inbox = await s.get(Inbox, inbox_id)
        if inbox is None:
            return []
        waiting = list(
            (
                await s.execute(
                    select(Conversation)
                    .where(
                        Conversation.inbox_id == inbox_id,
                        Conversation.state == ConversationState.OPEN,
                    )
                    .order_by(Conversation.opened_at, Conversation.id)
                )
            ).scalars()
        )
        if not waiting:
            return []
        agents = {
            a.user_id: a
            for a in (await s.execute(select(Agent).where(Agent.inbox_id == inbox_id))).scalars()
        }
        counted = await s.execute(
            select(Conversation.agent_id, func.count())
            .where(
                Conversation.inbox_id == inbox_id,
                Conversation.state == ConversationState.ASSIGNED,
            )
            .group_by(Conversation.agent_id)
        )
        loads = {agent_id: int(n) for agent_id, n in counted.all()}
        pool = [
            Candidate(
                a.user_id,
                statuses.get(a.user_id, presence.OFFLINE),
                int(loads.get(a.user_id, 0)),
                a.capacity,
                a.last_assigned_at,
            )
            for a in agents.values()
        ]
        for conversation in waiting:
            pick = choose(pool, inbox.routing)
            if pick is None:
                break
            values = {"agent_id": pick.user_id, "assigned_at": now}
            if not await move_txn(s, conversation, Action.ASSIGN, None, now, values=values):
                continue
            agents[pick.user_id].last_assigned_at = now
            pool = [
                replace(c, load=c.load + 1, last_assigned_at=now) if c is pick else c for c in pool
            ]
            assigned.append(conversation.id)
    if assigned:
        await announce(ctx, inbox_id, assigned)
    return assigned


async def announce(ctx: Context, inbox_id: int, changed: Sequence[int]) -> None:
    """Tell the inbox's agents that conversations changed, their visitors what they now see,
    and everyone still waiting their new place in the queue."""
    async with ctx.db.session() as s:
        agent_ids = list(
            (await s.execute(select(Agent.user_id).where(Agent.inbox_id == inbox_id))).scalars()
        )
        told = list(
            (
                await s.execute(
                    select(Conversation).where(
                        (Conversation.id.in_(changed))
                        | (
                            (Conversation.inbox_id == inbox_id)
                            & (Conversation.state == ConversationState.OPEN)
                        )
                    )
                )
            ).scalars()
        )
    for conversation in told:
        if conversation.id in changed:
            data: dict[str, Any] = {
                "conversation_id": conversation.id,
                "inbox_id": inbox_id,
                "state": conversation.state,
                "agent_id": conversation.agent_id,
            }
            await delivery.to_agents(ctx, agent_ids, "support.conversation", data)
        view = await visitor_view(ctx, conversation)
        await delivery.to_visitor(
            ctx, conversation.visitor_id, "support.conversation", {"conversation": view}
        )


async def do_requeue_agent(
    ctx: Context,
    user_id: int,
    reason: str,
    *,
    inbox_id: int | None = None,
    actor_id: int | None = None,
) -> list[int]:
    """Put the agent's conversations (in one inbox, or all) back in their queues, first in
    line (their place is kept), and give them to others; the ids moved."""
    now = ctx.clock.now()
    moved: dict[int, list[int]] = {}
    query = select(Conversation).where(
        Conversation.agent_id == user_id, Conversation.state == ConversationState.ASSIGNED
    )
    if inbox_id is not None:
        query = query.where(Conversation.inbox_id == inbox_id)
    async with ctx.db.session() as s:
        for conversation in list((await s.execute(query)).scalars()):
            values = {"agent_id": None, "assigned_at": None}
            detail = {"reason": reason, "agent_id": user_id}
            if await move_txn(
                s, conversation, Action.REQUEUE, actor_id, now, values=values, detail=detail
            ):
                moved.setdefault(conversation.inbox_id, []).append(conversation.id)
    for inbox_id, ids in moved.items():
        await announce(ctx, inbox_id, ids)
        await do_assign_waiting(ctx, inbox_id)
    return [i for ids in moved.values() for i in ids]


async def inboxes_answered_by(ctx: Context, user_id: int) -> list[int]:
    async with ctx.db.session() as s:
        return list(
            (await s.execute(select(Agent.inbox_id).where(Agent.user_id == user_id))).scalars()
        )


async def do_set_status(ctx: Context, actor: Actor, status: AgentStatus) -> str:
    """The agent chose ``status``: away gives their conversations to others, online takes
    waiting ones. Returns their effective status."""
    inbox_ids = await inboxes_answered_by(ctx, actor.user_id)
    if not inbox_ids:
        raise YuntongError("support_not_an_agent")
    await presence.write_status(ctx, actor.user_id, status)
    if status == AgentStatus.AWAY:
        await do_requeue_agent(ctx, actor.user_id, "away")
    for inbox_id in inbox_ids:
        await do_assign_waiting(ctx, inbox_id)
    return (await presence.statuses_of(ctx, [actor.user_id]))[actor.user_id]


async def do_transfer(
    ctx: Context, actor: Principal, conversation_id: int, to_user_id: int, note: str
) -> Conversation:
    """Give a conversation to another agent of its inbox, who is online or busy, with a note
    for them (kept in the trail); one waiting in the queue is assigned so."""
    async with ctx.db.session() as s:
        conversation = await s.get(Conversation, conversation_id)
    if conversation is None:
        raise YuntongError("support_conversation_not_found")
    await inboxes.check_agent(ctx, actor, conversation.inbox_id)
    rules.check_may_transfer(conversation, actor.user_id)
    async with ctx.db.session() as s:
        target = (
            await s.execute(
                select(Agent).where(
                    Agent.inbox_id == conversation.inbox_id, Agent.user_id == to_user_id
                )
            )
        ).scalar_one_or_none()
    if target is None:
        raise YuntongError("support_agent_not_found")
    status = (await presence.statuses_of(ctx, [to_user_id]))[to_user_id]
    if status not in (AgentStatus.ONLINE, AgentStatus.BUSY):
        raise YuntongError("support_agent_unavailable")
    now = ctx.clock.now()
    action = Action.ASSIGN if conversation.state == ConversationState.OPEN else Action.TRANSFER
    async with ctx.db.session() as s:
        moved = await move_txn(
            s,
            conversation,
            action,
            actor.user_id,
            now,
            values={"agent_id": to_user_id, "assigned_at": now},
            detail={"from": conversation.agent_id, "to": to_user_id, "note": note},
        )
        if moved:
            await s.execute(update(Agent).where(Agent.id == target.id).values(last_assigned_at=now))
    if not moved:
        raise YuntongError("support_conversation_changed")
    conversation.state, conversation.agent_id = ConversationState.ASSIGNED, to_user_id
    await announce(ctx, conversation.inbox_id, [conversation.id])
    await delivery.to_agents(
        ctx,
        [to_user_id],
        "support.transferred",
        {"conversation_id": conversation.id, "from": actor.display_name, "note": note},
    )
    return conversation


async def do_remove_agent(ctx: Context, actor: Actor, inbox_id: int, user_id: int) -> None:
    """The user answers the inbox no more: their conversations there go to others."""
    await inboxes.do_remove_agent(ctx, actor, inbox_id, user_id)
    await do_requeue_agent(ctx, user_id, "removed", inbox_id=inbox_id, actor_id=actor.user_id)


async def do_requeue_offline(ctx: Context, *, at_start: bool = True) -> int:
    """A recovery (the dead-node sweep, ``app.RECOVERIES``): conversations whose agent has
    been offline past the reconnect grace — their node died, or the server restarted and they
    never came back, so no node saw them go — are given to others. Not at start-up, and not
    in this node's first grace period: agents are reconnecting then."""
    grace = timedelta(seconds=ctx.settings.reconnect_grace_s)
    node = node_of(ctx)
    if at_start or node.started_at is None or node.clock.now() - node.started_at < grace:
        return 0
    async with ctx.db.session() as s:
        agent_ids = list(
            (
                await s.execute(
                    select(Conversation.agent_id)
                    .where(
                        Conversation.state == ConversationState.ASSIGNED,
                        Conversation.last_message_at < ctx.clock.now() - grace,
                    )
                    .distinct()
                )
            ).scalars()
        )
    statuses = await presence.statuses_of(ctx, [a for a in agent_ids if a is not None])
    moved = 0
    for user_id, status in statuses.items():
        if status == presence.OFFLINE:
            moved += len(await do_requeue_agent(ctx, user_id, "offline"))
    return moved


def install(ctx: Context) -> None:
    """An agent whose last socket is gone (after the reconnect grace, on every node) is
    offline: their conversations go to others."""

    async def gone(user_id: int) -> None:
        if await hub_of(ctx).is_online(user_id):
            return  # still connected on another node
        if await inboxes_answered_by(ctx, user_id):
            await do_requeue_agent(ctx, user_id, "offline")

    hub_of(ctx).on_user_offline.append(gone)
