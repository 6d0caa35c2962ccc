"""In-meeting chat: to everyone or to one participant, rate-limited per participant, kept
for the host's export."""

from __future__ import annotations

import time
from typing import Any

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.meetings import store
from yuntong.meetings.live.participant import Participant, Participants, TokenBucket

MAX_CHAT_CHARS = 2000


def allowance(ctx: Context) -> TokenBucket:
    """A new participant's chat allowance (``meeting_chat_per_s``, ``meeting_chat_burst``)."""
    burst = ctx.settings.meeting_chat_burst
    return TokenBucket(ctx.settings.meeting_chat_per_s, burst, burst, time.monotonic())


async def post(
    ctx: Context,
    meeting_id: str,
    members: Participants,
    p: Participant,
    text: str,
    to: str | None,
) -> dict[str, Any]:
    """Keep ``p``'s message and send it to everyone joined, or to ``to`` (and ``p``)."""
    text = text.strip()
    if not text or len(text) > MAX_CHAT_CHARS:
        raise YuntongError("validation_failed", fields={"text": "invalid"})
    assert p.chat is not None
    if not p.chat.take(time.monotonic()):
        raise YuntongError("chat_rate_limited")
    recipient = members.get(to) if to is not None else None
    async with ctx.db.session() as s:
        row = store.add_chat_message(
            s,
            meeting_id=meeting_id,
            sender_id=p.id,
            sender_name=p.name,
            recipient_id=recipient.id if recipient else None,
            text=text,
            at=ctx.clock.now(),
        )
    message = {
        "id": row.id,
        "from": p.id,
        "from_name": p.name,
        "to": row.recipient_id,
        "text": text,
        "at": row.at.isoformat(),
    }
    if recipient is None:
        await members.broadcast("meeting.chat", {"message": message})
    else:
        for q in {p, recipient}:
            await members.send(q, "meeting.chat", {"message": message})
    return {"message": message}
