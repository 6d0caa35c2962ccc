"""The organiser adds people by calling them from the bridge (dial-out): a Yuntong number's
registered SIP phone, or a number outside Yuntong through the carrier trunk. The bridge offers
its port first (AudioBridge ``generate_offer``), the edge sends the INVITE, and the callee's
answer tells the bridge where to send the mix; the organiser pays for the leg's minutes."""

from __future__ import annotations

import secrets

from yuntong.conferences import bridge, control, sdp, service
from yuntong.conferences.models import Conference, ConferenceLeg, LegKind
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.numbers import directory as numbers
from yuntong.numbers.models import NumberState
from yuntong.sip import edge
from yuntong.sip.credentials import sip_domain, username_of

log = get_logger(__name__)


async def _target(ctx: Context, e164: str) -> tuple[str, str, int | None]:
    """Where an INVITE to ``e164`` goes: (Request-URI, next hop, the callee's user id)."""
    found = await numbers.number_state(ctx, e164)
    if found is not None:
        state, user_id = found
        if state != NumberState.ASSIGNED or user_id is None:
            raise YuntongError("conference_callee_unreachable")
        contacts = await edge.contacts_of(ctx, username_of(e164))
        if not contacts:
            raise YuntongError("conference_callee_unreachable")
        return contacts[0], ".", user_id
    if not ctx.settings.sip_trunks:
        raise YuntongError("conference_callee_unreachable")
    trunk = ctx.settings.sip_trunks[0]
    return (
        f"sip:{e164}@{trunk.host}:{trunk.port}",
        f"sip:{trunk.host}:{trunk.port};transport={trunk.transport}",
        None,
    )


async def do_dial_out(
    ctx: Context, conference: Conference, organiser_id: int, number: str
) -> ConferenceLeg:
    """Call ``number`` into the conference; the leg joins the mix when it answers."""
    e164 = numbers.parse_dialled(number)
    if e164 is None:
        raise YuntongError("conference_callee_unreachable")
    service.check_may_join(conference, moderator=True)
    ruri, nexthop, callee = await _target(ctx, e164)
    call_id = f"{edge.DIAL_OUT_PREFIX}{secrets.token_hex(12)}"
    leg = await service.do_add_leg(
        ctx,
        conference,
        LegKind.PHONE if callee is not None else LegKind.OUTSIDE,
        user_id=callee,
        display=e164,
        number=e164,
        sip_call_id=call_id,
        payer_id=organiser_id,
        connected=False,
    )
    try:
        local = await bridge.join_rtp_offer(ctx, conference, leg, control.on_gone(ctx))
    except YuntongError:
        await service.do_leg_left(ctx, leg.id, leg.joined_at)
        raise
    domain = sip_domain(ctx)
    sent = await edge.dial_out(
        ctx,
        edge.DialOut(
            call_id=call_id,
            ruri=ruri,
            nexthop=nexthop,
            from_uri=f"sip:{username_of(conference.dial_in)}@{domain}",
            from_tag=secrets.token_hex(8),
            to_uri=f"sip:{username_of(e164)}@{domain}" if callee else ruri,
            sdp=sdp.answer(local.ip, local.port, "pcmu", 0),
            caller_user_id=organiser_id,
            callee_user_id=callee,
            calling_number=conference.dial_in,
            called_number=e164,
        ),
    )
    if not sent:
        await control.do_leave(ctx, leg)
        raise YuntongError("conference_callee_unreachable")
    return leg


async def on_dialled(ctx: Context, sip_call_id: str, code: int, answer_sdp: str) -> None:
    """The callee answered (their audio goes into the mix now) or did not (the leg ends
    unbilled)."""
    leg = await service.leg_by_sip_call(ctx, sip_call_id)
    if leg is None:
        return
    offer = sdp.parse_offer(answer_sdp) if 200 <= code < 300 else None
    if offer is not None and await bridge.connect_rtp(ctx, leg.id, offer.ip, offer.port):
        await service.do_leg_answered(ctx, leg.id)
        return
    if 200 <= code < 300:
        log.warning("conference_dial_out_bad_answer", code=code)
        await control.hang_up_phone(ctx, leg)
    await bridge.leave(ctx, leg.id)
    await service.do_leg_left(ctx, leg.id, leg.joined_at)  # never answered: nothing charged
