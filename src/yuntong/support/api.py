"""REST routes of the desk (docs/support.md): inboxes and agents (organisation administrators,
operator administrators), the agent workspace (agents), and the widget's calls (visitors, from
the inbox's origins: ``support/cors.py``). Thin: the rules are in the service modules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, require_user
from yuntong.core.api_types import INT32_MAX, DbId
from yuntong.core.context import Context, get_context
from yuntong.core.i18n import pick_locale
from yuntong.support import assignment, conversations, inboxes, presence, views
from yuntong.support.identity import (
    SignedIdentity,
    VisitorToken,
    check_token,
    check_token_for,
    do_identify,
    issue_token,
)
from yuntong.support.inboxes import InboxSettings
from yuntong.support.models import AgentStatus, Inbox, Routing
from yuntong.support.strings import widget_strings

InboxId = Annotated[DbId, Path(description="The inbox's id")]
ConversationId = Annotated[DbId, Path(description="The conversation's id")]
AgentName = Annotated[str, Path(description="The username of the member made an agent")]
AgentUserId = Annotated[DbId, Path(description="The agent's user id")]
WidgetKey = Annotated[str, Path(description="The inbox's public key (the widget's data-inbox)")]

router = APIRouter(prefix="/api/v1/support", tags=["support desk"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]
VisitorTokenHeader = Annotated[
    str,
    Header(alias="X-Visitor-Token", max_length=512, description="the token the session gave"),
]
Attribute = str | int | float | bool | None
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text holds no NUL character


class PrechatField(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="the attribute it fills")
    label_zh: str = Field(min_length=1, max_length=40, description="the label in Chinese")
    label_en: str = Field(min_length=1, max_length=40, description="the label in English")
    required: bool = Field(False, description="must be answered")
    options: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=20, description="choices (e.g. student, parent)"
    )


class InboxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80, pattern=NO_NUL, description="shown to visitors")
    origins: list[Annotated[str, Field(max_length=200)]] = Field(
        max_length=inboxes.MAX_ORIGINS, description="sites the widget runs on: https://host[:port]"
    )
    allow_anonymous: bool = Field(False, description="visitors without the platform's signature")
    prechat_fields: list[PrechatField] = Field(
        default_factory=list, max_length=10, description="the pre-chat form"
    )
    routing: Routing = Field(Routing.ROUND_ROBIN, description="how conversations are assigned")
    organisation_id: DbId | None = Field(
        default=None, description="operator administrators: the organisation it is for"
    )

    def settings(self) -> InboxSettings:
        return InboxSettings(
            name=self.name,
            origins=self.origins,
            allow_anonymous=self.allow_anonymous,
            prechat_fields=[f.model_dump() for f in self.prechat_fields],
            routing=self.routing,
        )


class InboxOut(BaseModel):
    id: int = Field(description="the row id")
    key: str = Field(description="what the widget's script tag names (data-inbox)")
    organisation_id: int = Field(description="the organisation it belongs to")
    name: str = Field(description="shown to visitors")
    origins: list[str] = Field(description="sites the widget may run on")
    allow_anonymous: bool = Field(description="visitors without a signature may chat")
    prechat_fields: list[dict[str, Any]] = Field(description="the pre-chat form")
    routing: str = Field(description="round_robin or least_busy")

    @classmethod
    def of(cls, inbox: Inbox) -> InboxOut:
        return cls(**{k: getattr(inbox, k) for k in cls.model_fields})


class InboxCreated(InboxOut):
    secret: str = Field(description="the identity secret: shown this once, keep it server-side")


class SecretOut(BaseModel):
    secret: str = Field(description="the new identity secret (the old one stops working)")


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capacity: int = Field(3, ge=1, le=inboxes.MAX_CAPACITY, description="conversations at once")


class AgentOut(BaseModel):
    user_id: int = Field(description="the agent's user id")
    display_name: str = Field(description="the agent's display name")
    capacity: int = Field(description="conversations they take at once")
    status: str = Field(description="offline, online, busy or away")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: AgentStatus = Field(description="online, busy or away")


class MeOut(BaseModel):
    status: str = Field(description="offline (no socket), online, busy or away")
    chosen: AgentStatus | None = Field(description="what the agent chose (null: never)")
    agent: bool = Field(description="the caller answers in at least one inbox")
    inboxes: list[InboxOut] = Field(description="the inboxes the caller manages or answers in")


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=4000, pattern=NO_NUL, description="plain text")
    client_id: str | None = Field(
        default=None,
        max_length=40,
        pattern=NO_NUL,
        description="the sender's id: a retry is not a second message",
    )


class MessageOut(BaseModel):
    id: int = Field(description="the row id")
    conversation_id: int = Field(description="the conversation")
    sender: Literal["visitor", "agent", "system"] = Field(description="visitor, agent or system")
    author: str | None = Field(description="the agent's display name")
    body: str = Field(description="plain text")
    client_id: str | None = Field(description="the sender's own id for it")
    created_at: str = Field(description="when it was written")


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_user_id: DbId = Field(description="an agent of the inbox who is online or busy")
    note: str = Field(
        "", max_length=1000, pattern=NO_NUL, description="for the agent taking it over"
    )


class QueueOut(BaseModel):
    position: int = Field(description="1: next in line")
    wait_s: int | None = Field(description="expected wait; null when no agent is online")
    agents_online: int = Field(description="agents online or busy in the inbox now")


class VisitorConversationOut(BaseModel):
    id: int = Field(description="the row id")
    state: str = Field(description="open (waiting), assigned or resolved")
    agent: str | None = Field(description="the display name of the agent answering")
    queue: QueueOut | None = Field(description="the place in the queue while waiting (else null)")


class WidgetStateOut(BaseModel):
    visitor_id: int = Field(description="the visitor")
    conversation: VisitorConversationOut | None = Field(description="null before the first message")
    messages: list[MessageOut] = Field(description="oldest first")


class IdentityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    visitor_id: str = Field(
        min_length=1, max_length=64, pattern=NO_NUL, description="the platform's id"
    )
    attributes: dict[str, Attribute] = Field(
        default_factory=dict, description="signed as canonical JSON (name, role, course, class…)"
    )
    timestamp: int = Field(ge=0, le=2**40, description="Unix seconds when it was signed")
    signature: str = Field(
        min_length=64, max_length=64, description="hex HMAC-SHA256 (docs/support.md)"
    )


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity: IdentityIn | None = Field(default=None, description="null: an anonymous visitor")
    prechat: dict[str, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=10, description="the pre-chat form's answers"
    )


class SessionOut(BaseModel):
    token: str = Field(description="send as X-Visitor-Token, and as ?ticket= on /ws/support")
    state: WidgetStateOut = Field(description="the conversation and messages now")


class WidgetConfigOut(BaseModel):
    name: str = Field(description="the inbox's name")
    allow_anonymous: bool = Field(description="visitors without a signature may chat")
    prechat_fields: list[dict[str, Any]] = Field(description="the pre-chat form")
    locale: str = Field(description="the language of the words")
    strings: dict[str, str] = Field(description="the widget's words in this locale")


class VisitorOut(BaseModel):
    id: int = Field(description="the row id")
    verified: bool = Field(description="identified by the platform's signature")
    external_id: str | None = Field(description="the platform's id (null: anonymous)")
    name: str | None = Field(description="shown to visitors")
    attributes: dict[str, Any] = Field(description="signed or pre-chat attributes")


class ConversationOut(BaseModel):
    id: int = Field(description="the row id")
    inbox_id: int = Field(description="the inbox it came in by")
    state: str = Field(description="open (waiting), assigned or resolved")
    agent_id: int | None = Field(description="the agent answering (null: none)")
    agent: str | None = Field(description="the agent's display name")
    visitor: VisitorOut = Field(description="who is asking")
    opened_at: str = Field(description="when it last joined the queue")
    last_message_at: str = Field(description="the last message, either side")
    can_reply: bool = Field(description="the caller may answer it")
    can_resolve: bool = Field(description="the caller may resolve it")
    can_reopen: bool = Field(description="the caller may reopen it")
    can_transfer: bool = Field(description="the caller may transfer or assign it")


class EventOut(BaseModel):
    at: str = Field(description="when")
    action: str = Field(description="assign, transfer, requeue, resolve or reopen")
    actor: str | None = Field(description="who did it (null: the desk itself)")
    to: str | None = Field(description="the agent it went to")
    note: str | None = Field(description="the transfer note")
    reason: str | None = Field(description="why it went back to the queue: away, offline …")


class ConversationDetailOut(ConversationOut):
    messages: list[MessageOut] = Field(description="oldest first")
    events: list[EventOut] = Field(description="the trail: assigned, transferred (with notes), …")


# --- inboxes and agents ------------------------------------------------------------------


@router.get("/inboxes", response_model=list[InboxOut])
async def list_inboxes(ctx: Ctx, user: User) -> list[InboxOut]:
    """The inboxes the caller manages or answers in."""
    return [InboxOut.of(i) for i in await inboxes.inboxes_of(ctx, user)]


@router.post("/inboxes", response_model=InboxCreated, status_code=201)
async def create_inbox(ctx: Ctx, user: User, body: InboxIn) -> InboxCreated:
    """A new inbox (one site); its identity secret is in this answer only."""
    inbox, secret = await inboxes.do_create_inbox(ctx, user, body.settings(), body.organisation_id)
    return InboxCreated(**InboxOut.of(inbox).model_dump(), secret=secret)


@router.put("/inboxes/{inbox_id}", response_model=InboxOut)
async def update_inbox(ctx: Ctx, user: User, inbox_id: InboxId, body: InboxIn) -> InboxOut:
    """Change an inbox's name, origins, anonymous visitors, pre-chat form or routing."""
    return InboxOut.of(await inboxes.do_update_inbox(ctx, user, inbox_id, body.settings()))


@router.post("/inboxes/{inbox_id}/secret", response_model=SecretOut)
async def rotate_secret(ctx: Ctx, user: User, inbox_id: InboxId) -> SecretOut:
    """A new identity secret, shown once; signatures under the old one are refused."""
    return SecretOut(secret=await inboxes.do_rotate_secret(ctx, user, inbox_id))


async def _agents_out(ctx: Context, inbox_id: int) -> list[AgentOut]:
    agents = await inboxes.agents_of(ctx, inbox_id)
    ids = [a.user_id for a in agents]
    statuses = await presence.statuses_of(ctx, ids)
    names = await views.names_of(ctx, set(ids))
    return [
        AgentOut(
            user_id=a.user_id,
            display_name=names.get(a.user_id, ""),
            capacity=a.capacity,
            status=statuses[a.user_id],
        )
        for a in agents
    ]


@router.get("/inboxes/{inbox_id}/agents", response_model=list[AgentOut])
async def list_agents(ctx: Ctx, user: User, inbox_id: InboxId) -> list[AgentOut]:
    """The inbox's agents with their capacity and status (whom to transfer to)."""
    await inboxes.check_agent(ctx, user, inbox_id)
    return await _agents_out(ctx, inbox_id)


@router.put("/inboxes/{inbox_id}/agents/{username}", response_model=list[AgentOut])
async def set_agent(
    ctx: Ctx, user: User, inbox_id: InboxId, username: AgentName, body: AgentIn
) -> list[AgentOut]:
    """Make a member of the organisation (or operator staff) an agent, or change capacity."""
    await inboxes.do_set_agent(ctx, user, inbox_id, username, body.capacity)
    await assignment.do_assign_waiting(ctx, inbox_id)
    return await _agents_out(ctx, inbox_id)


@router.delete("/inboxes/{inbox_id}/agents/{user_id}", status_code=204)
async def remove_agent(ctx: Ctx, user: User, inbox_id: InboxId, user_id: AgentUserId) -> None:
    """The agent answers here no more; their conversations go to others."""
    await assignment.do_remove_agent(ctx, user, inbox_id, user_id)


# --- the agent workspace -------------------------------------------------------------------


async def _me(ctx: Context, user: Principal) -> MeOut:
    status = (await presence.statuses_of(ctx, [user.user_id]))[user.user_id]
    chosen = (await presence.chosen_statuses(ctx, [user.user_id])).get(user.user_id)
    return MeOut(
        status=status,
        chosen=None if chosen is None else AgentStatus(chosen),
        agent=bool(await assignment.inboxes_answered_by(ctx, user.user_id)),
        inboxes=[InboxOut.of(i) for i in await inboxes.inboxes_of(ctx, user)],
    )


@router.get("/me", response_model=MeOut)
async def me(ctx: Ctx, user: User) -> MeOut:
    """The caller's desk status and inboxes."""
    return await _me(ctx, user)


@router.put("/me/status", response_model=MeOut)
async def set_status(ctx: Ctx, user: User, body: StatusIn) -> MeOut:
    """Online takes conversations, busy keeps its own, away hands them to others."""
    await assignment.do_set_status(ctx, user, body.status)
    return await _me(ctx, user)


@router.get("/conversations", response_model=list[ConversationOut])
async def list_conversations(
    ctx: Ctx,
    user: User,
    listing: Annotated[
        Literal["mine", "queue", "open", "resolved"],
        Query(description="mine: assigned to me; queue: waiting; open: all open; resolved"),
    ] = "open",
    inbox_id: Annotated[
        DbId | None, Query(description="only this inbox's (default: every inbox I serve)")
    ] = None,
) -> list[dict[str, Any]]:
    """Conversations of the caller's inboxes: theirs, waiting, every open one, or resolved."""
    return await conversations.conversations_for(ctx, user, listing, inbox_id)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetailOut)
async def get_conversation(ctx: Ctx, user: User, conversation_id: ConversationId) -> dict[str, Any]:
    """One conversation: the visitor, messages and trail (transfer notes)."""
    return await conversations.conversation_detail(ctx, user, conversation_id)


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut)
async def reply(
    ctx: Ctx, user: User, conversation_id: ConversationId, body: MessageIn
) -> dict[str, Any]:
    """Answer a conversation assigned to the caller (the visitor receives it live)."""
    return await conversations.do_agent_message(
        ctx, user, conversation_id, body.body, body.client_id
    )


@router.post("/conversations/{conversation_id}/resolve", response_model=ConversationDetailOut)
async def resolve(ctx: Ctx, user: User, conversation_id: ConversationId) -> dict[str, Any]:
    """Resolve it (its agent, or anyone while it waits); a visitor writing again reopens it."""
    await conversations.do_resolve(ctx, user, conversation_id)
    return await conversations.conversation_detail(ctx, user, conversation_id)


@router.post("/conversations/{conversation_id}/reopen", response_model=ConversationDetailOut)
async def reopen(ctx: Ctx, user: User, conversation_id: ConversationId) -> dict[str, Any]:
    """Back to the queue, and to whoever is free."""
    await conversations.do_reopen(ctx, user, conversation_id)
    return await conversations.conversation_detail(ctx, user, conversation_id)


@router.post("/conversations/{conversation_id}/transfer", response_model=ConversationDetailOut)
async def transfer(
    ctx: Ctx, user: User, conversation_id: ConversationId, body: TransferIn
) -> dict[str, Any]:
    """Hand it to another agent of the inbox (online or busy) with a note."""
    await assignment.do_transfer(ctx, user, conversation_id, body.to_user_id, body.note)
    return await conversations.conversation_detail(ctx, user, conversation_id)


# --- the widget (visitors; CORS for the inbox's origins) ------------------------------------


@router.get("/widget/{key}/config", response_model=WidgetConfigOut)
async def widget_config(
    ctx: Ctx,
    key: WidgetKey,
    locale: Annotated[
        str | None, Query(max_length=16, description="zh-CN or en (default: the visitor's)")
    ] = None,
) -> WidgetConfigOut:
    """What the widget shows before a session: the inbox's name, pre-chat form, its words."""
    inbox = await inboxes.inbox_by_key(ctx, key)
    chosen = pick_locale(locale)
    return WidgetConfigOut(
        name=inbox.name,
        allow_anonymous=inbox.allow_anonymous,
        prechat_fields=inbox.prechat_fields,
        locale=chosen,
        strings=widget_strings(chosen),
    )


@router.post("/widget/{key}/session", response_model=SessionOut)
async def widget_session(ctx: Ctx, key: WidgetKey, body: SessionIn) -> dict[str, Any]:
    """Exchange the platform's signed identity (or, where allowed, nothing) for a visitor
    token. ``support_identity_invalid``, ``_expired``, ``_replayed``, ``_required``."""
    inbox = await inboxes.inbox_by_key(ctx, key)
    signed = None
    if body.identity is not None:
        signed = SignedIdentity(**body.identity.model_dump())
    visitor = await do_identify(ctx, inbox, signed, dict(body.prechat))
    token = issue_token(ctx, visitor)
    state = await conversations.widget_state(ctx, check_token(ctx, token))
    return {"token": token, "state": state}


@router.get("/widget/{key}/conversation", response_model=WidgetStateOut)
async def widget_conversation(
    ctx: Ctx,
    key: WidgetKey,
    token: VisitorTokenHeader,
    after_id: Annotated[
        int, Query(ge=0, le=INT32_MAX, description="only messages after this id (0: all)")
    ] = 0,
) -> dict[str, Any]:
    """The visitor's conversation and its messages (after ``after_id``)."""
    visitor = await _visitor(ctx, key, token)
    return await conversations.widget_state(ctx, visitor, after_id)


@router.post("/widget/{key}/messages", response_model=MessageOut)
async def widget_message(
    ctx: Ctx, key: WidgetKey, token: VisitorTokenHeader, body: MessageIn
) -> dict[str, Any]:
    """The visitor writes (opening or reopening their conversation)."""
    visitor = await _visitor(ctx, key, token)
    return await conversations.do_visitor_message(ctx, visitor, body.body, body.client_id)


async def _visitor(ctx: Context, key: str, token: str) -> VisitorToken:
    return check_token_for(ctx, token, await inboxes.inbox_by_key(ctx, key))
