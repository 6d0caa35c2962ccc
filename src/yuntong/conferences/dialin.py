"""Phones and outside callers dialling in through the SIP edge.

The caller dials the conference's number, ``*`` and the PIN (``+8613912345678*482913``, or
``13912345678*482913``): the AudioBridge cannot receive keypad tones (RFC 4733) from a
plain-RTP participant, so the PIN cannot be asked for after the answer; the number alone still
reaches the number's owner as an ordinary call, and one operator number carries many
conferences told apart by their PINs. A wrong PIN is refused (403) and counted against the
caller and the number (:func:`~yuntong.conferences.service.do_admit_by_pin`).

The edge answers the call itself (``action`` answer): the caller's SDP offer gives where the
phone listens and its codec (PCMU, PCMA or Opus); the phone joins the bridge as a plain-RTP
participant and the SDP answer points it at the bridge. Its BYE ends the leg.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from yuntong.conferences import bridge, control, dialout, sdp, service
from yuntong.conferences.models import Conference, LegKind
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.numbers import directory as numbers
from yuntong.sip.routing import DialIn, reject

log = get_logger(__name__)

# the SIP answer of each refusal
REFUSALS: dict[str, tuple[int, str]] = {
    "conference_pin_wrong": (403, "Wrong Conference PIN"),
    "rate_limited": (403, "Too Many Wrong PINs"),
    "conference_locked": (403, "Conference Locked"),
    "conference_ended": (404, "Conference Ended"),
}
PAYMENT_REQUIRED = (402, "Payment Required")  # the caller pays, and credit control refused


async def _hosts_conferences(ctx: Context, e164: str) -> bool:
    if e164 in {numbers.parse_dialled(n) for n in ctx.settings.conference_numbers}:
        return True
    async with ctx.db.session() as s:
        query = select(Conference.id).where(Conference.dial_in == e164)
        return (await s.execute(query.limit(1))).first() is not None


class ConferenceDialIn:
    """The answering the SIP edge is handed (:func:`yuntong.sip.routing.answer_with`)."""

    async def answer(self, ctx: Context, call: DialIn) -> dict[str, Any] | None:
        number, _, pin = call.dialled.partition("*")
        e164 = numbers.parse_dialled(number)
        if e164 is None or not await _hosts_conferences(ctx, e164):
            return None
        offer = sdp.parse_offer(call.sdp)
        if offer is None:
            return reject(488, "Not Acceptable Here")
        caller_key = call.calling_number or "anonymous"
        try:
            conference = await service.do_admit_by_pin(ctx, e164, pin, caller_key)
            leg = await service.do_add_leg(
                ctx,
                conference,
                LegKind.PHONE if call.caller_user_id is not None else LegKind.OUTSIDE,
                user_id=call.caller_user_id,
                display=call.calling_number or "anonymous",
                number=call.calling_number,
                sip_call_id=call.sip_call_id,
            )
        except YuntongError as exc:
            if exc.code.startswith(("credit_", "billing_")):
                return reject(*PAYMENT_REQUIRED)
            return reject(*REFUSALS.get(exc.code, (403, "Forbidden")))
        try:
            endpoint = await bridge.join_rtp(
                ctx,
                conference,
                leg,
                ip=offer.ip,
                port=offer.port,
                codec=offer.codec,
                payload_type=offer.payload_type,
                on_gone=control.on_gone(ctx),
            )
        except YuntongError as exc:
            log.warning("conference_dial_in_failed", error=str(exc))
            await service.do_leg_left(ctx, leg.id)
            return reject(503, "Service Unavailable")
        body = sdp.answer(endpoint.ip, endpoint.port, offer.codec, offer.payload_type)
        return {"action": "answer", "sdp": body}

    async def dialled(self, ctx: Context, sip_call_id: str, code: int, sdp: str) -> None:
        await dialout.on_dialled(ctx, sip_call_id, code, sdp)

    async def ended(self, ctx: Context, sip_call_id: str) -> None:
        leg = await service.leg_by_sip_call(ctx, sip_call_id)
        if leg is not None:
            await control.do_leave(ctx, leg)
