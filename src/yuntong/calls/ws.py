"""Realtime handlers for call signaling (thin: validate, call the service)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from yuntong.calls import engine, history
from yuntong.realtime.connection import Connection, HandlerTable
from yuntong.realtime.protocol import MAX_SDP_BYTES, IceCandidate


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CallRef(_Msg):
    call_id: str = Field(min_length=1, max_length=64)


class Invite(_Msg):
    to: str | int
    media: Literal["audio", "video"] = "video"
    sdp: str = Field(max_length=MAX_SDP_BYTES)
    # a call by number: which of the caller's numbers it is presented from (default: the first)
    from_number: str | None = Field(default=None, max_length=32)
    # CLIR for this call: true withholds the caller's identity, false shows it (default: the
    # caller's CLIR setting); "#31#" / "*31#" before the number do the same
    clir: bool | None = None


class Answer(CallRef):
    sdp: str = Field(max_length=MAX_SDP_BYTES)
    # a waiting call (call waiting): hold (the default) or end the call the callee is in
    mode: Literal["hold", "end"] | None = None


class Ice(CallRef):
    candidate: IceCandidate | None


class MediaState(CallRef):
    state: Literal["connected", "failed"]


class Quality(CallRef):
    rtt_ms: float | None = Field(default=None, ge=0, le=60_000)
    jitter_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    bitrate_kbps: float | None = Field(default=None, ge=0, le=1_000_000)
    frames_decoded: int | None = Field(default=None, ge=0)
    audio_bytes_received: int | None = Field(default=None, ge=0)
    final: bool = False


async def invite(conn: Connection, msg: Invite) -> dict[str, Any]:
    return await engine.do_invite(
        conn.ctx,
        conn.principal,
        conn.device_id,
        msg.to,
        msg.media,
        msg.sdp,
        msg.from_number,
        msg.clir,
    )


async def ringing(conn: Connection, msg: CallRef) -> None:
    await engine.do_ringing(conn.ctx, conn.user_id, msg.call_id)


async def answer(conn: Connection, msg: Answer) -> None:
    await engine.do_answer(conn.ctx, conn.user_id, conn.device_id, msg.call_id, msg.sdp, msg.mode)


async def reject(conn: Connection, msg: CallRef) -> None:
    await engine.do_reject(conn.ctx, conn.user_id, msg.call_id)


async def cancel(conn: Connection, msg: CallRef) -> None:
    await engine.do_cancel(conn.ctx, conn.user_id, msg.call_id)


async def hangup(conn: Connection, msg: CallRef) -> None:
    await engine.do_hangup(conn.ctx, conn.user_id, msg.call_id)


async def resume(conn: Connection, msg: CallRef) -> None:
    await engine.do_resume(conn.ctx, conn.user_id, msg.call_id)


async def ice(conn: Connection, msg: Ice) -> None:
    candidate = msg.candidate.model_dump(exclude_none=True) if msg.candidate else None
    await engine.do_relay_ice(conn.ctx, conn.user_id, conn.device_id, msg.call_id, candidate)


async def media(conn: Connection, msg: MediaState) -> None:
    if msg.state == "connected":
        await engine.do_media_connected(conn.ctx, conn.user_id, msg.call_id)
    else:
        await engine.do_media_failed(conn.ctx, conn.user_id, msg.call_id)


async def quality(conn: Connection, msg: Quality) -> None:
    report = msg.model_dump(exclude={"call_id"})
    await history.do_report_quality(conn.ctx, conn.user_id, msg.call_id, report)


HANDLERS: HandlerTable = {
    "call.invite": (Invite, invite),
    "call.ringing": (CallRef, ringing),
    "call.answer": (Answer, answer),
    "call.reject": (CallRef, reject),
    "call.cancel": (CallRef, cancel),
    "call.hangup": (CallRef, hangup),
    "call.resume": (CallRef, resume),
    "call.ice": (Ice, ice),
    "call.media": (MediaState, media),
    "call.quality": (Quality, quality),
}


async def send_resync(conn: Connection) -> None:
    """After a resume from a node that died (``hello.resync``): the calls of this device that
    ended meanwhile are told again (their ``call.ended`` may have been lost with the node)."""
    if conn.channel.resynced:
        for data in await engine.ended_since_drop(conn.ctx, conn.user_id, conn.device_id):
            await conn.channel.send_event("call.ended", data)


GREETERS = {"call.ended": send_resync}
