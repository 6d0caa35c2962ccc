"""Janus's HTTP event handler posts here: media statistics and slow links become each
participant's network-quality level (shown to everyone) and the loss and jitter kept on
the attendance record. Basic auth, user ``janus``: the password of the local Janus (new at
every start) or ``YUNTONG_JANUS_EVENTS_PASSWORD`` for remote nodes.

Janus posts to one address (a node, or the balancer in front of them), but a participant's
handles belong to the room of the node that owns the meeting. An event about a handle this
node does not know is passed to the others on the bus topic :data:`RELAYED`, and the node
whose room knows the handle takes it (the first node to receive it ignores it when it hears
it back). A
lost statistic is harmless: the next one comes a few seconds later."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import Counter

from yuntong.core.basic_auth import check_basic
from yuntong.core.context import Context, get_context
from yuntong.core.logging import get_logger
from yuntong.media.supervisor import EVENTS_PATH, EVENTS_USER, LOCAL_JANUS
from yuntong.meetings.live.rooms import rooms_of

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)
JANUS_EVENTS = Counter("yuntong_janus_events_total", "Janus handler events by type", ["type"])
MEDIA_EVENT = 32
MAX_BODY = 1_000_000
GOOD, FAIR = 85, 50  # Janus link quality (0–100) at or above which the link is good / fair
RELAYED = "meetings.janus_event"  # an event for a handle of another node's room


def _passwords(ctx: Context) -> list[str]:
    found = []
    local = ctx.services.get(LOCAL_JANUS).value
    if local is not None and local.events_password:
        found.append(local.events_password)
    if ctx.settings.janus_events_password is not None:
        found.append(ctx.settings.janus_events_password.get_secret_value())
    return found


def _authorised(ctx: Context, header: str | None) -> bool:
    return check_basic(header, EVENTS_USER, _passwords(ctx))


@router.post(EVENTS_PATH)
async def janus_events(request: Request) -> Response:
    ctx = get_context(request)
    if not _authorised(ctx, request.headers.get("authorization")):
        return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="janus"'})
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413)
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        return Response(status_code=400)
    events = payload if isinstance(payload, list) else [payload]
    for item in events:
        if isinstance(item, dict):
            await consume(ctx, item)
    return Response(status_code=200)


def install(ctx: Context) -> None:
    """Take the events other nodes received for handles of this node's rooms."""

    async def relayed(message: dict[str, Any]) -> None:
        item = message.get("item")
        if message.get("from") != ctx.node_id and isinstance(item, dict):
            await consume(ctx, item, relayed=True)

    ctx.bus.subscribe(RELAYED, relayed)


async def consume(ctx: Context, item: dict[str, Any], *, relayed: bool = False) -> None:
    """One Janus event: media statistics of a publisher's handle set its quality level; an
    event for a handle of another node's room goes to the other nodes (unless ``relayed``
    here by one of them)."""
    kind = item.get("type")
    if not relayed:
        JANUS_EVENTS.labels(str(kind)).inc()
    if kind != MEDIA_EVENT:
        return
    found = rooms_of(ctx).by_janus_handle(int(item.get("handle_id") or 0))
    event = item.get("event")
    if not isinstance(event, dict):
        return
    if found is None:
        if not relayed:  # one node alone hears it back from its own bus, and ignores it
            await ctx.bus.publish(RELAYED, {"from": ctx.node_id, "item": item})
        return
    room, participant = found
    if not any(f.handle.id == item.get("handle_id") for f in participant.feeds.values()):
        return  # a subscriber's handle: its downlink is not the participant's uplink
    if "slow_link" in event:
        await room.set_quality(participant, "poor")
        return
    quality = event.get("in-link-quality")
    if not isinstance(quality, int | float):
        return
    level = "good" if quality >= GOOD else "fair" if quality >= FAIR else "poor"
    await room.set_quality(participant, level)
    lost, received = event.get("lost"), event.get("packets-received")
    jitter = event.get("jitter-local")
    if isinstance(lost, int) and isinstance(received, int) and lost + received > 0:
        room.add_quality_sample(
            participant,
            100.0 * lost / (lost + received),
            float(jitter) if isinstance(jitter, int | float) else 0.0,
        )
