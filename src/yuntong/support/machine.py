"""The conversation state machine (transition table) and its one conditional move.

::

    open ─assign→ assigned ─transfer→ assigned
      ▲  ◀─requeue── ┘  │
      │              resolve
    reopen            ▼
      └──────────── resolved ◀─resolve── open

Every move is one ``UPDATE … WHERE state = <from>`` (and the agent it was read with), written
with its ``support_conversation_events`` row in the same transaction (:func:`move_txn`), so two
nodes assigning one conversation, or an agent resolving what was just transferred away, cannot
both win.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.core.errors import YuntongError
from yuntong.support.models import Conversation, ConversationEvent, ConversationState

S = ConversationState


class Action(enum.StrEnum):
    ASSIGN = "assign"  # the queue gives it to an agent (or an agent takes it)
    TRANSFER = "transfer"  # to another agent, with a note
    REQUEUE = "requeue"  # its agent went away or offline: back to the queue, first in line
    RESOLVE = "resolve"
    REOPEN = "reopen"  # the visitor writes again, or an agent reopens it


A = Action

TRANSITIONS: Final[dict[tuple[ConversationState, Action], ConversationState]] = {
    (S.OPEN, A.ASSIGN): S.ASSIGNED,
    (S.ASSIGNED, A.TRANSFER): S.ASSIGNED,
    (S.ASSIGNED, A.REQUEUE): S.OPEN,
    (S.OPEN, A.RESOLVE): S.RESOLVED,
    (S.ASSIGNED, A.RESOLVE): S.RESOLVED,
    (S.RESOLVED, A.REOPEN): S.OPEN,
}


def check_transition(state: str, action: Action) -> ConversationState:
    """The state ``action`` leads to from ``state``; ``invalid_transition`` if none."""
    target = TRANSITIONS.get((ConversationState(state), action))
    if target is None:
        raise YuntongError("invalid_transition", state=state)
    return target


def allowed_actions(state: str) -> list[str]:
    """The actions the table allows from ``state`` (what the workspace may offer)."""
    return [a.value for (s, a) in TRANSITIONS if s == state]


async def move_txn(
    s: AsyncSession,
    conversation: Conversation,
    action: Action,
    actor_id: int | None,
    now: datetime,
    *,
    values: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Move ``conversation`` (as read) by ``action`` with ``values``, if it is still in the
    state and with the agent it was read with; its event in the same transaction. False:
    someone moved it first."""
    before = conversation.state
    target = check_transition(before, action)
    result = await s.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation.id,
            Conversation.state == before,
            Conversation.agent_id.is_(None)
            if conversation.agent_id is None
            else Conversation.agent_id == conversation.agent_id,
        )
        .values(state=target.value, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    s.add(
        ConversationEvent(
            conversation_id=conversation.id,
            at=now,
            actor_id=actor_id,
            action=action.value,
            from_state=before,
            to_state=target.value,
            detail=detail or {},
        )
    )
    return True
