"""The organiser's controls over the REST API on a live bridge (SQLite and PostgreSQL, real
Kamailio, Janus and SIPp): a phone muted in the bridge and removed (the edge hangs it up), the
conference locked against new callers, and ended (every phone hung up, nobody joins again)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.integration.conferences.conftest import (
    ConferenceWorld,
    Make,
    Phone,
    Subscriber,
    api,
    sip_account,
)
from tests.integration.conferences.test_dial_in import PIN, dial
from tests.support.server import wait_for
from yuntong.conferences import bridge, service


async def open_conference(world: ConferenceWorld, organiser: Subscriber) -> dict[str, Any]:
    resp = await api(
        world.server,
        organiser,
        "POST",
        "/conferences",
        {"title": "Ops review", "dial_in": organiser.e164, "pin": PIN},
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def in_bridge(world: ConferenceWorld, conference_id: str, count: int) -> list[dict[str, Any]]:
    ctx = world.server.app_context

    async def listed() -> tuple[list[dict[str, Any]]] | None:
        found = await bridge.participants(ctx, await service.get_conference(ctx, conference_id))
        return (found,) if len(found) == count else None

    result: tuple[list[dict[str, Any]]] = await wait_for(listed, timeout=20, interval=0.2)
    return result[0]


async def test_the_organiser_mutes_and_removes_a_phone_which_is_hung_up(
    conference_world: ConferenceWorld, subscriber: Make, tmp_path: Path
) -> None:
    world = conference_world
    organiser = await subscriber(online=False)
    conference = await open_conference(world, organiser)
    dave: Phone = await sip_account(world.server, await subscriber(online=False))
    ivan: Phone = await sip_account(world.server, await subscriber(online=False))
    to = f"{organiser.number}*{PIN}"
    path = f"/conferences/{conference['id']}"
    call = asyncio.create_task(dial(world, dave, to, tmp_path / "dave", hung_up=True))
    stays = asyncio.create_task(dial(world, ivan, to, tmp_path / "ivan", hung_up=True))
    try:
        listed = await in_bridge(world, conference["id"], 2)
        assert [p["muted"] for p in listed] == [False, False]
        legs = (await api(world.server, organiser, "GET", path)).json()["legs"]
        [leg] = [found for found in legs if found["display"] == dave.who.e164]
        assert leg["kind"] == "phone"
        muted = await api(
            world.server, organiser, "POST", f"{path}/legs/{leg['id']}/mute", {"muted": True}
        )
        assert muted.status_code == 200, muted.text
        assert muted.json()["muted"] is True
        listed = await in_bridge(world, conference["id"], 2)
        assert sorted(p["muted"] for p in listed) == [False, True]
        removed = await api(world.server, organiser, "DELETE", f"{path}/legs/{leg['id']}")
        assert removed.status_code == 204, removed.text
        hung_up = await asyncio.wait_for(call, 30)
        assert hung_up.code == 0, hung_up.output  # the phone got the edge's BYE
        [left] = await in_bridge(world, conference["id"], 1)  # the other phone stays
        legs = (await api(world.server, organiser, "GET", path)).json()["legs"]
        by_number = {found["display"]: found for found in legs}
        assert by_number[dave.who.e164]["removed"] is True
        assert by_number[dave.who.e164]["left_at"] is not None
        assert by_number[ivan.who.e164]["left_at"] is None
        assert left["id"] != leg["id"]
        ended = await api(world.server, organiser, "POST", f"{path}/end")
        assert ended.status_code == 200, ended.text
        assert (await asyncio.wait_for(stays, 30)).code == 0
    finally:
        call.cancel()
        stays.cancel()


async def test_a_locked_conference_refuses_callers_and_an_ended_one_everyone(
    conference_world: ConferenceWorld, subscriber: Make, tmp_path: Path
) -> None:
    world = conference_world
    organiser = await subscriber(online=False)
    conference = await open_conference(world, organiser)
    erin = await sip_account(world.server, await subscriber(online=False))
    frank = await sip_account(world.server, await subscriber(online=False))
    to = f"{organiser.number}*{PIN}"
    path = f"/conferences/{conference['id']}"
    call = asyncio.create_task(dial(world, erin, to, tmp_path / "erin", hung_up=True))
    try:
        await in_bridge(world, conference["id"], 1)
        locked = await api(world.server, organiser, "POST", f"{path}/lock", {"locked": True})
        assert locked.json()["locked"] is True
        refused = await dial(world, frank, to, tmp_path / "frank", expect=403)
        assert refused.code == 0, refused.output
        assert "Conference Locked" in refused.messages
        ended = await api(world.server, organiser, "POST", f"{path}/end")
        assert ended.status_code == 200, ended.text
        assert ended.json()["state"] == "ended"
        hung_up = await asyncio.wait_for(call, 30)
        assert hung_up.code == 0, hung_up.output
        [leg] = ended.json()["legs"]
        assert leg["left_at"] is not None
        again = await dial(world, frank, to, tmp_path / "frank2", expect=404)
        assert again.code == 0, again.output
    finally:
        call.cancel()
