"""Customer-service desk tables (issue 18, CS 1.2; migration 0025): inboxes and their agents,
agents' chosen presence, visitors, conversations, their messages and trail, and the identity
signatures already used (replay refusal).

An inbox belongs to an organisation (the education platform) and is one site: the origins
its widget may run on, its identity secret (encrypted at rest, shown once), whether
anonymous visitors may chat, and the pre-chat form. Messages are rows before they travel:
pub/sub only tells live sockets, a socket that was away reads them back from here.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuntong.core.db import Base, UTCDateTime


class ConversationState(enum.StrEnum):
    OPEN = "open"  # waiting in the queue for an agent
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class AgentStatus(enum.StrEnum):
    """What an agent chose; with no socket online they are offline whatever they chose."""

    ONLINE = "online"  # takes new conversations up to their capacity
    BUSY = "busy"  # keeps their conversations, takes no new ones
    AWAY = "away"  # their conversations go to others


class Routing(enum.StrEnum):
    ROUND_ROBIN = "round_robin"  # the free agent assigned longest ago
    LEAST_BUSY = "least_busy"  # the free agent with the fewest conversations


class Inbox(Base):
    __tablename__ = "support_inboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # what the widget's script tag names (data-inbox): public, not guessable
    key: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # the sites the widget may run on ("https://www.example.edu"); CORS and socket origins
    origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # the HMAC key the platform signs visitors' identities with (AES-GCM, shown once)
    secret_enc: Mapped[str] = mapped_column(Text)
    allow_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # the pre-chat form: [{"name", "label_zh", "label_en", "required", "options"}]
    prechat_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    routing: Mapped[str] = mapped_column(String(12), default=Routing.ROUND_ROBIN)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Agent(Base):
    """A user who answers an inbox's conversations, with their capacity there."""

    __tablename__ = "support_agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("support_inboxes.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    # round robin: the agent assigned longest ago is next (None: never)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("inbox_id", "user_id", name="uq_support_agents_inbox_user"),)


class AgentPresence(Base):
    """An agent's chosen status, one row per user (every node reads it here)."""

    __tablename__ = "support_agent_presence"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), default=AgentStatus.AWAY)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Visitor(Base):
    __tablename__ = "support_visitors"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("support_inboxes.id"))
    # the platform's id of a verified visitor; None: anonymous
    external_id: Mapped[str | None] = mapped_column(String(64))
    # attributes (name, role, course, class ...) as JSON, encrypted: personal data
    attributes_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("inbox_id", "external_id", name="uq_support_visitors_inbox_external"),
    )


class Conversation(Base):
    __tablename__ = "support_conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("support_inboxes.id"))
    visitor_id: Mapped[int] = mapped_column(ForeignKey("support_visitors.id"), index=True)
    state: Mapped[str] = mapped_column(String(10), default=ConversationState.OPEN)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # joined the queue (last time)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_support_conversations_queue", "inbox_id", "state", "opened_at"),)


class Message(Base):
    __tablename__ = "support_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("support_conversations.id"))
    sender: Mapped[str] = mapped_column(String(8))  # visitor | agent | system
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the agent
    body: Mapped[str] = mapped_column(Text)
    # the sender's own id for the message: a retry after a lost answer is not a second message
    client_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_support_messages_conversation", "conversation_id", "id"),
        UniqueConstraint("conversation_id", "client_id", name="uq_support_messages_client"),
    )


class ConversationEvent(Base):
    """Append-only trail of a conversation: assigned, transferred (with the note), resolved,
    reopened, returned to the queue."""

    __tablename__ = "support_conversation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("support_conversations.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(12))
    from_state: Mapped[str] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class UsedSignature(Base):
    """An identity signature already exchanged for a visitor token: refused again until it
    would have expired anyway (then the row may go)."""

    __tablename__ = "support_used_signatures"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("support_inboxes.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
