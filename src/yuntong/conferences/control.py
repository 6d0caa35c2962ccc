"""Joining and leaving a live conference, and the moderator's controls: each a change of the
records (:mod:`~yuntong.conferences.service`) and of the bridge
(:mod:`~yuntong.conferences.bridge`) together; a phone leg that is removed or ended is hung
up by the SIP edge (a BYE it sends through tm's ``t_uac_start``: Kamailio's dialog RPC
``dlg.end_dlg`` cannot end a dialog the edge answered itself, it knows no callee contact)."""

from __future__ import annotations

import asyncio
from typing import Any

from yuntong.cluster import forward
from yuntong.conferences import bridge, service
from yuntong.conferences.models import Conference, ConferenceLeg, LegKind
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.sip import edge

log = get_logger(__name__)
_TASKS: set[asyncio.Task[Any]] = set()


def on_gone(ctx: Context) -> bridge.OnGone:
    """What Janus telling a leg's media ended does: the leg left (once)."""

    def gone(leg_id: str) -> None:
        task = asyncio.get_running_loop().create_task(_gone(ctx, leg_id))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)

    return gone


async def _gone(ctx: Context, leg_id: str) -> None:
    ctx.services.get(bridge.BRIDGES).legs.pop(leg_id, None)
    await service.do_leg_left(ctx, leg_id)


async def do_join_browser(
    ctx: Context, conference: Conference, user_id: int, display: str, offer_sdp: str
) -> tuple[ConferenceLeg, str]:
    """A signed-in browser joins with its SDP offer; the leg and Janus's SDP answer."""
    leg = await service.do_add_leg(
        ctx, conference, LegKind.BROWSER, user_id=user_id, display=display
    )
    try:
        answer = await bridge.join_webrtc(ctx, conference, leg, offer_sdp, on_gone(ctx))
    except YuntongError:
        await service.do_leg_left(ctx, leg.id)
        raise
    return leg, answer


async def do_leave(ctx: Context, leg: ConferenceLeg) -> ConferenceLeg | None:
    """A participant leaves: this node drops its handle, or, when another node joined the leg,
    the bridge drops the participant (a kick any node may ask for)."""
    if leg.id in ctx.services.get(bridge.BRIDGES).legs:
        await bridge.leave(ctx, leg.id)
    elif leg.left_at is None:
        await bridge.kick(ctx, await service.get_conference(ctx, leg.conference_id), leg)
    return await service.do_leg_left(ctx, leg.id)


HANG_UP = "conferences.hang_up"  # a phone's dialog is on the edge of the node that answered


def install(ctx: Context) -> None:
    """Hang up, for other nodes, the phones this node's edge answered or dialled."""

    async def run(request: dict[str, Any]) -> dict[str, Any] | None:
        return {"ended": await edge.hang_up(ctx, str(request["sip_call_id"]))}

    forward.serve(ctx, HANG_UP, run)


async def hang_up_phone(ctx: Context, leg: ConferenceLeg) -> bool:
    """Have the edge that holds a phone's dialog end it (a BYE to the phone): this node's, or
    the node's that answered the phone; False if it could not."""
    if not leg.sip_call_id:
        return False
    node = leg.node_id or ctx.node_id
    try:
        answer = await forward.ask(ctx, node, HANG_UP, {"sip_call_id": leg.sip_call_id})
    except YuntongError as exc:
        log.warning("conference_phone_hangup_unreachable", node=node, error=exc.code)
        return False
    ended = bool(answer and answer.get("ended"))
    if not ended:
        log.warning("conference_phone_hangup_failed", sip_call_id=leg.sip_call_id[:80])
    return ended


async def do_remove(ctx: Context, conference: Conference, leg: ConferenceLeg) -> None:
    """The moderator removes a participant: out of the mix, the leg closed, a phone hung up."""
    if leg.left_at is not None:
        return
    await service.do_leg_left(ctx, leg.id, removed=True)  # before the bridge says it left
    await bridge.kick(ctx, conference, leg)
    await hang_up_phone(ctx, leg)


async def do_mute(ctx: Context, conference: Conference, leg: ConferenceLeg, muted: bool) -> None:
    if leg.left_at is not None:
        raise YuntongError("conference_leg_not_found")
    await bridge.mute(ctx, conference, leg, muted)
    await service.do_set_muted(ctx, [leg.id], muted)


async def do_mute_all(ctx: Context, conference: Conference, muted: bool) -> None:
    """Everyone but the moderators (their legs are unmuted again at once)."""
    legs = await service.legs_of(ctx, conference.id, present=True)
    if conference.janus_room is not None:
        await bridge.mute_all(ctx, conference, muted)
        for leg in legs:
            if leg.moderator and muted:
                await bridge.mute(ctx, conference, leg, False)
    await service.do_set_muted(ctx, [leg.id for leg in legs if not leg.moderator], muted)


async def do_end(ctx: Context, conference: Conference) -> list[ConferenceLeg]:
    """End the conference: the bridge destroyed, every leg closed, phones hung up."""
    present = await service.legs_of(ctx, conference.id, present=True)
    closed = await service.do_mark_ended(ctx, conference)
    await bridge.destroy(ctx, conference, [leg.id for leg in present])
    for leg in present:
        await hang_up_phone(ctx, leg)
    return closed
