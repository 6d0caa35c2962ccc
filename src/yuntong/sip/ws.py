"""Realtime handlers of the browsers' SIP line (thin: validate, call the gateway).

``sip.online`` registers the device's line (its calls ring this browser too); ``sip.call``
calls a number through the SIP edge with the browser's WebRTC offer; ``sip.accept`` answers a
``sip.incoming`` call, ``sip.hangup`` ends (or declines) the call. Events back: ``sip.ringing``,
``sip.answered`` (Janus's answer), ``sip.incoming`` (Janus's offer), ``sip.ended``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from yuntong.numbers import directory as numbers
from yuntong.realtime.connection import Connection, HandlerTable
from yuntong.realtime.protocol import MAX_SDP_BYTES
from yuntong.sip.gateway import gateway_of


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Online(_Msg):
    pass


class Call(_Msg):
    to: str = Field(min_length=1, max_length=40, description="the number dialled")
    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)


class CallRef(_Msg):
    call_id: str = Field(min_length=1, max_length=200)


class Accept(CallRef):
    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)


async def online(conn: Connection, _msg: Online) -> dict[str, Any]:
    line = await gateway_of(conn.ctx).line(conn.user_id, conn.device_id)
    return {"number": line.number}


async def call(conn: Connection, msg: Call) -> dict[str, Any]:
    dialled = msg.to.strip()
    called = numbers.parse_dialled(dialled)
    gateway = gateway_of(conn.ctx)
    line = await gateway.line(conn.user_id, conn.device_id)
    # E.164 without "+" for Yuntong and public numbers alike; anything else as dialled
    # (the edge answers 484 to digits that are no number)
    target = called.lstrip("+") if called is not None else dialled.replace("#", "%23")
    call_id = await gateway.call(line, target, msg.sdp)
    return {"call_id": call_id, "from": line.number, "to": called or dialled}


async def accept(conn: Connection, msg: Accept) -> None:
    gateway = gateway_of(conn.ctx)
    await gateway.accept(await gateway.line(conn.user_id, conn.device_id), msg.call_id, msg.sdp)


async def hangup(conn: Connection, msg: CallRef) -> None:
    gateway = gateway_of(conn.ctx)
    await gateway.hangup(await gateway.line(conn.user_id, conn.device_id), msg.call_id)


HANDLERS: HandlerTable = {
    "sip.online": (Online, online),
    "sip.call": (Call, call),
    "sip.accept": (Accept, accept),
    "sip.hangup": (CallRef, hangup),
}
