"""SIP phones dial into a conference through the edge (``number*PIN``): the edge answers with
the bridge's SDP, the phones are plain-RTP participants of the conference's Janus
AudioBridge, their legs are recorded and billed as calls; a wrong PIN is refused (SQLite and
PostgreSQL, real Kamailio, Janus and SIPp)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.integration.conferences.conftest import ConferenceWorld, Make, Phone, sip_account
from tests.integration.conferences.phones import dial_in_scenario
from tests.support.server import wait_for
from tests.support.sipp import Run, invite_scenario, run
from yuntong.billing.models import UsageRecord
from yuntong.conferences import bridge, service
from yuntong.conferences.models import Conference, ConferenceLeg

PIN = "482913"


async def dial(world: ConferenceWorld, phone: Phone, to: str, folder: Path, **options: Any) -> Run:
    return await run(
        world.edge,
        dial_in_scenario(to, **options),
        folder,
        service=phone.username,
        user=phone.username,
        password=phone.password,
    )


async def legs(world: ConferenceWorld, conference_id: str) -> list[ConferenceLeg]:
    return await service.legs_of(world.server.app_context, conference_id)


async def test_two_phones_dial_in_with_the_pin_and_are_mixed_in_the_bridge(
    conference_world: ConferenceWorld, subscriber: Make, tmp_path: Path
) -> None:
    world = conference_world
    ctx = world.server.app_context
    organiser = await subscriber(online=False)
    conference = await service.do_create(ctx, organiser.user_id, "Weekly", organiser.e164, PIN)
    alice = await sip_account(world.server, await subscriber(online=False))
    bob = await sip_account(world.server, await subscriber(online=False))
    to = f"{organiser.number}*{PIN}"
    calls = [
        asyncio.create_task(dial(world, alice, to, tmp_path / "alice", hold_ms=6000)),
        asyncio.create_task(dial(world, bob, to, tmp_path / "bob", hold_ms=6000)),
    ]

    async def two_in_bridge() -> list[dict[str, Any]]:
        found = await service.get_conference(ctx, conference.id)
        listed = await bridge.participants(ctx, found)
        return listed if len(listed) == 2 else []

    try:
        listed = await wait_for(two_in_bridge, timeout=20, interval=0.2)
        in_legs = await legs(world, conference.id)
        assert {leg.janus_participant for leg in in_legs} == {p["id"] for p in listed}
        assert {leg.user_id for leg in in_legs} == {alice.who.user_id, bob.who.user_id}
        assert {leg.kind for leg in in_legs} == {"phone"}
        world.server.clock.advance(seconds=61)
    finally:
        done = await asyncio.gather(*calls)
    for call in done:
        assert call.code == 0, call.output

    async def both_left() -> list[ConferenceLeg]:
        found = await legs(world, conference.id)
        return found if all(leg.left_at is not None for leg in found) else []

    closed = await wait_for(both_left, timeout=10)
    assert [leg.billable_seconds for leg in closed] == [61, 61]
    async with ctx.db.session() as s:
        usages = (
            await s.execute(
                select(UsageRecord).where(UsageRecord.source_id.in_([leg.id for leg in closed]))
            )
        ).scalars()
        charged = sorted((u.user_id, u.usage_type, u.quantity_s) for u in usages)
    assert charged == sorted(
        [(alice.who.user_id, "call.audio", 61), (bob.who.user_id, "call.audio", 61)]
    )
    async with ctx.db.session() as s:
        assert (await s.get(Conference, conference.id)) is not None


async def test_a_wrong_pin_is_refused_and_joins_nothing(
    conference_world: ConferenceWorld, subscriber: Make, tmp_path: Path
) -> None:
    world = conference_world
    ctx = world.server.app_context
    organiser = await subscriber(online=False)
    conference = await service.do_create(ctx, organiser.user_id, "Board", organiser.e164, PIN)
    carol = await sip_account(world.server, await subscriber(online=False))
    refused = await dial(world, carol, f"{organiser.number}*000000", tmp_path, expect=403)
    assert refused.code == 0, refused.output
    assert "Wrong Conference PIN" in refused.messages
    assert await legs(world, conference.id) == []


async def test_an_outside_caller_dials_in_through_the_trunk_and_is_not_charged(
    conference_world: ConferenceWorld, subscriber: Make, tmp_path: Path
) -> None:
    world = conference_world
    ctx = world.server.app_context
    organiser = await subscriber(online=False)
    conference = await service.do_create(ctx, organiser.user_id, "Suppliers", organiser.e164, PIN)
    caller = "13800138000"  # someone on the public network, through the carrier
    call = await run(
        world.edge,
        invite_scenario(f"{organiser.e164[1:]}*{PIN}", auth=False, hold_ms=2000),
        tmp_path,
        service=caller,
        port=world.trunk_port,
    )
    assert call.code == 0, call.output

    async def left() -> list[ConferenceLeg]:
        found = await legs(world, conference.id)
        return found if found and found[0].left_at is not None else []

    [leg] = await wait_for(left, timeout=10)
    assert (leg.kind, leg.number, leg.user_id, leg.payer_id) == (
        "outside",
        "+86" + caller,
        None,
        None,
    )
    async with ctx.db.session() as s:
        charged = (
            await s.execute(select(UsageRecord).where(UsageRecord.source_id == leg.id))
        ).first()
    assert charged is None
