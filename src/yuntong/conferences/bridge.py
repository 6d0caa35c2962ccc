"""The audio bridge of a live conference: a Janus AudioBridge room, on the Janus node the
conference's row names (any node of the pool when it has none yet), and this node's handles
on it: a control handle (create, mute, kick, destroy) and one handle per leg this node
joined (a browser's WebRTC, or a SIP phone's plain RTP).

The room's id and node are kept on the conference's row and its secret is derived from the
conference and the key every node shares (:func:`room_secret`), so any node can reach the
same room: a phone answered by one node and a browser joined through another are mixed in
one bridge.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from yuntong.conferences.models import Conference, ConferenceLeg
from yuntong.conferences.service import do_set_bridge, get_conference
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.media.janus import (
    JanusClient,
    JanusError,
    JanusEvent,
    JanusHandle,
    JanusSession,
    janus_token,
)
from yuntong.media.pool import POOL, NodeState

log = get_logger(__name__)

AUDIOBRIDGE = "janus.plugin.audiobridge"
TOKEN_TTL_S = 24 * 3600
SAMPLING_RATE = 16000  # wideband mix: Opus browsers and G.711 phones alike
NO_SUCH_ROOM = 485  # JANUS_AUDIOBRIDGE_ERROR_NO_SUCH_ROOM
NO_SUCH_USER = 487  # JANUS_AUDIOBRIDGE_ERROR_NO_SUCH_USER
OnGone = Callable[[str], None]  # a leg's media ended on Janus (its id)


def room_secret(ctx: Context, conference_id: str, room: int) -> str:
    key = ctx.settings.secret_key.get_secret_value().encode()
    digest = hmac.new(key, f"audiobridge:{conference_id}:{room}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode()


@dataclass
class NodeLink:
    """This node's one connection and session on a Janus node, shared by its bridges."""

    client: JanusClient
    session: JanusSession


@dataclass(frozen=True)
class Control:
    """This node's control handle on a conference's room."""

    handle: JanusHandle
    room: int
    secret: str


@dataclass
class Bridges:
    """This node's links to Janus nodes and its handles on conference rooms."""

    links: dict[str, NodeLink] = field(default_factory=dict)
    controls: dict[str, Control] = field(default_factory=dict)  # by conference id
    legs: dict[str, JanusHandle] = field(default_factory=dict)  # leg id -> handle
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


BRIDGES = Piece(
    "conferences.bridges",
    "node-owned live state",
    lambda ctx: Bridges(),
    "this node's Janus sessions and AudioBridge handles of live conference calls",
)


def _pool_node(ctx: Context, name: str | None) -> NodeState:
    pool = ctx.services.get(POOL).value
    if pool is None:
        raise YuntongError("janus_unavailable")
    if name is not None and name in pool.nodes:
        return pool.nodes[name]
    return pool.pick()


async def _link(ctx: Context, node: NodeState) -> NodeLink:
    bridges = ctx.services.get(BRIDGES)
    link = bridges.links.get(node.name)
    if link is not None and not link.session.ended.is_set():
        return link
    secret = node.config.token_secret
    token = (
        janus_token(secret.get_secret_value(), datetime.now(UTC), TOKEN_TTL_S, (AUDIOBRIDGE,))
        if secret is not None
        else None
    )
    client = await JanusClient.connect(node.config.url, token, timeout_s=node.timeout_s * 2)
    link = NodeLink(client, await client.create_session())
    bridges.links[node.name] = link
    return link


async def _control(ctx: Context, conference: Conference) -> Control:
    """The control handle of the conference's room, creating the room on first use."""
    bridges = ctx.services.get(BRIDGES)
    async with bridges.lock:
        known = bridges.controls.get(conference.id)
        if known is not None and not known.handle.session.ended.is_set():
            conference.janus_room = known.room
            return known
        if conference.janus_room is None:  # another node may have opened it meanwhile
            conference = await get_conference(ctx, conference.id)
        node = _pool_node(ctx, conference.janus_node)
        room = conference.janus_room or secrets.randbelow(2**52) + 1
        secret = room_secret(ctx, conference.id, room)
        link = await _link(ctx, node)
        handle = await link.session.attach(AUDIOBRIDGE)
        exists = await handle.request({"request": "exists", "room": room})
        if not exists.get("exists"):
            await handle.request(
                {
                    "request": "create",
                    "room": room,
                    "admin_key": node.config.videoroom_admin_key.get_secret_value(),
                    "secret": secret,
                    "description": conference.id,
                    "is_private": True,
                    "sampling_rate": SAMPLING_RATE,
                    "allow_rtp_participants": True,
                    "audiolevel_event": False,
                }
            )
        if conference.janus_room != room or conference.janus_node != node.name:
            await do_set_bridge(ctx, conference, node.name, room)
        control = Control(handle, room, secret)
        bridges.controls[conference.id] = control
        return control


def _watch(leg: ConferenceLeg, on_gone: OnGone | None) -> Callable[[JanusEvent], None]:
    """A leg's handle's events: its media or its place in the room ended (hung up, left,
    kicked, the room destroyed); every handle hears of the others' kicks, so only its own id
    counts."""

    def on_event(event: JanusEvent) -> None:
        said = event.data.get("audiobridge")
        gone = event.kind in ("hangup", "detached") or said in ("left", "destroyed")
        kicked = said == "event" and event.data.get("kicked") == leg.janus_participant
        if (gone or kicked) and on_gone is not None:
            on_gone(leg.id)

    return on_event


@dataclass(frozen=True)
class RtpEndpoint:
    """Where the AudioBridge takes a phone's audio (its answer to a plain-RTP join)."""

    ip: str
    port: int
    payload_type: int


async def join_rtp(
    ctx: Context,
    conference: Conference,
    leg: ConferenceLeg,
    *,
    ip: str,
    port: int,
    codec: str,
    payload_type: int,
    on_gone: OnGone | None = None,
) -> RtpEndpoint:
    """Join a SIP phone as a plain-RTP participant: the bridge sends the mix to ``ip:port``
    in ``codec`` (pcmu, pcma or opus) and says where it takes the phone's audio."""
    room = (await _control(ctx, conference)).room
    link = await _link(ctx, _pool_node(ctx, conference.janus_node))
    handle = await link.session.attach(AUDIOBRIDGE, on_event=_watch(leg, on_gone))
    rtp: dict[str, Any] = {"ip": ip, "port": port}
    if codec == "opus":
        rtp["payload_type"] = payload_type
    event = await handle.message(
        {
            "request": "join",
            "room": room,
            "id": leg.janus_participant,
            "display": leg.display,
            "muted": leg.muted,
            "codec": codec,
            "rtp": rtp,
        }
    )
    answer = event.data.get("rtp")
    if event.data.get("audiobridge") != "joined" or not isinstance(answer, dict):
        await _detach(handle)
        raise YuntongError("janus_unavailable")
    ctx.services.get(BRIDGES).legs[leg.id] = handle
    return RtpEndpoint(
        str(answer.get("ip") or ip), int(answer["port"]), int(answer.get("payload_type", 0))
    )


async def join_rtp_offer(
    ctx: Context, conference: Conference, leg: ConferenceLeg, on_gone: OnGone | None = None
) -> RtpEndpoint:
    """Join someone being dialled out to (PCMU): the bridge reserves its port first (its
    offer), and learns where to send the mix from their answer (:func:`connect_rtp`)."""
    room = (await _control(ctx, conference)).room
    link = await _link(ctx, _pool_node(ctx, conference.janus_node))
    handle = await link.session.attach(AUDIOBRIDGE, on_event=_watch(leg, on_gone))
    event = await handle.message(
        {
            "request": "join",
            "room": room,
            "id": leg.janus_participant,
            "display": leg.display,
            "muted": leg.muted,
            "codec": "pcmu",
            "rtp": {"generate_offer": True},
        }
    )
    local = event.data.get("rtp")
    if event.data.get("audiobridge") != "joined" or not isinstance(local, dict):
        await _detach(handle)
        raise YuntongError("janus_unavailable")
    ctx.services.get(BRIDGES).legs[leg.id] = handle
    return RtpEndpoint(str(local.get("ip")), int(local["port"]), int(local.get("payload_type", 0)))


async def connect_rtp(ctx: Context, leg_id: str, ip: str, port: int) -> bool:
    """Tell the bridge where a dialled-out participant listens (their SDP answer)."""
    handle = ctx.services.get(BRIDGES).legs.get(leg_id)
    if handle is None:
        return False
    event = await handle.message({"request": "configure", "rtp": {"ip": ip, "port": port}})
    return event.data.get("result") == "ok"


async def join_webrtc(
    ctx: Context,
    conference: Conference,
    leg: ConferenceLeg,
    offer_sdp: str,
    on_gone: OnGone | None = None,
) -> str:
    """Join a browser with its SDP offer (audio, Opus); Janus's SDP answer."""
    room = (await _control(ctx, conference)).room
    link = await _link(ctx, _pool_node(ctx, conference.janus_node))
    handle = await link.session.attach(AUDIOBRIDGE, on_event=_watch(leg, on_gone))
    event = await handle.message(
        {
            "request": "join",
            "room": room,
            "id": leg.janus_participant,
            "display": leg.display,
            "muted": leg.muted,
        },
        {"type": "offer", "sdp": offer_sdp},
    )
    jsep = event.jsep
    if event.data.get("audiobridge") != "joined" or not jsep or not jsep.get("sdp"):
        await _detach(handle)
        raise YuntongError("janus_unavailable")
    ctx.services.get(BRIDGES).legs[leg.id] = handle
    return str(jsep["sdp"])


async def _detach(handle: JanusHandle) -> None:
    try:
        await handle.detach()
    except YuntongError as exc:
        log.info("conference_detach_failed", error=str(exc))


async def leave(ctx: Context, leg_id: str) -> None:
    """Drop this node's handle of a leg (the participant leaves the mix)."""
    handle = ctx.services.get(BRIDGES).legs.pop(leg_id, None)
    if handle is not None:
        await _detach(handle)


async def _admin(ctx: Context, conference: Conference, body: dict[str, Any]) -> dict[str, Any]:
    control = await _control(ctx, conference)
    return await control.handle.request({**body, "room": control.room, "secret": control.secret})


async def participants(ctx: Context, conference: Conference) -> list[dict[str, Any]]:
    """The bridge's own list of who is in the room (ids, muted)."""
    if conference.janus_room is None:
        return []
    listed = await _admin(ctx, conference, {"request": "listparticipants"})
    found = listed.get("participants", [])
    return [p for p in found if isinstance(p, dict)]


async def mute(ctx: Context, conference: Conference, leg: ConferenceLeg, muted: bool) -> None:
    try:
        await _admin(
            ctx,
            conference,
            {"request": "mute" if muted else "unmute", "id": leg.janus_participant},
        )
    except JanusError as exc:
        if exc.janus_code != NO_SUCH_USER:
            raise


async def mute_all(ctx: Context, conference: Conference, muted: bool) -> None:
    await _admin(ctx, conference, {"request": "mute_room" if muted else "unmute_room"})


async def kick(ctx: Context, conference: Conference, leg: ConferenceLeg) -> None:
    try:
        await _admin(ctx, conference, {"request": "kick", "id": leg.janus_participant})
    except JanusError as exc:
        if exc.janus_code != NO_SUCH_USER:
            raise
    await leave(ctx, leg.id)


async def destroy(ctx: Context, conference: Conference, leg_ids: list[str]) -> None:
    """Destroy the room (every participant is dropped) and this node's handles on it."""
    for leg_id in leg_ids:
        await leave(ctx, leg_id)
    if conference.janus_room is None:
        return
    try:
        await _admin(ctx, conference, {"request": "destroy"})
    except JanusError as exc:
        if exc.janus_code != NO_SUCH_ROOM:
            raise
    control = ctx.services.get(BRIDGES).controls.pop(conference.id, None)
    if control is not None:
        await _detach(control.handle)


async def close(ctx: Context) -> None:
    """Close this node's Janus links (shutdown)."""
    bridges = ctx.services.get(BRIDGES)
    for link in list(bridges.links.values()):
        with contextlib.suppress(YuntongError):
            await link.client.close()
    bridges.links.clear()
    bridges.controls.clear()
    bridges.legs.clear()
