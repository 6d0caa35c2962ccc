"""Who may do what with a conversation in the workspace: the ``check_*`` functions the actions
run, and that the workspace's ``can_*`` flags are computed from (``core.errors.allows``)."""

from __future__ import annotations

from yuntong.core.errors import YuntongError
from yuntong.support.machine import Action, check_transition
from yuntong.support.models import Conversation, ConversationState


def check_may_reply(conversation: Conversation, actor_id: int) -> None:
    """Only the agent it is assigned to answers it."""
    if conversation.state != ConversationState.ASSIGNED or conversation.agent_id != actor_id:
        raise YuntongError("support_not_your_conversation")


def check_may_resolve(conversation: Conversation, actor_id: int) -> None:
    """Its agent, or any agent of the inbox while it waits in the queue."""
    check_transition(conversation.state, Action.RESOLVE)
    if conversation.agent_id not in (None, actor_id):
        raise YuntongError("support_not_your_conversation")


def check_may_reopen(conversation: Conversation) -> None:
    check_transition(conversation.state, Action.REOPEN)


def check_may_transfer(conversation: Conversation, actor_id: int) -> None:
    """Its agent hands it on; one waiting in the queue may be given to anyone."""
    if conversation.state == ConversationState.OPEN:
        return
    check_transition(conversation.state, Action.TRANSFER)
    if conversation.agent_id != actor_id:
        raise YuntongError("support_not_your_conversation")
