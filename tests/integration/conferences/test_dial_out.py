"""The organiser calls someone into the conference (dial-out): the edge rings their registered
SIP phone with the bridge's offer, the answer joins them to the mix, the organiser pays for the
leg, and removing them hangs the phone up (SQLite and PostgreSQL, real Kamailio, Janus, SIPp)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from tests.integration.conferences.conftest import ConferenceWorld, Make, api, sip_account
from tests.integration.conferences.test_moderator import in_bridge, open_conference
from tests.integration.sip.test_edge_calls import register
from tests.support.server import wait_for
from tests.support.sipp import Uas
from yuntong.billing.models import UsageRecord


async def test_the_organiser_dials_a_phone_in_and_pays_for_its_minutes(
    conference_world: ConferenceWorld, subscriber: Make, tmp_path: Path
) -> None:
    world = conference_world
    organiser = await subscriber(online=False)
    conference = await open_conference(world, organiser)
    grace = await sip_account(world.server, await subscriber(online=False))
    port = await register(world, grace, tmp_path)  # type: ignore[arg-type]
    phone = Uas(world.edge, tmp_path / "grace", port, service=grace.username)
    await phone.start()
    path = f"/conferences/{conference['id']}"
    try:
        dialled = await api(
            world.server, organiser, "POST", f"{path}/dial-outs", {"number": grace.who.number}
        )
        assert dialled.status_code == 201, dialled.text
        leg = dialled.json()
        assert (leg["kind"], leg["number"], leg["charged"]) == ("phone", grace.who.e164, True)
        assert leg["connected"] is False  # ringing

        async def answered() -> bool:
            [found] = (await api(world.server, organiser, "GET", path)).json()["legs"]
            return bool(found["connected"])

        await wait_for(answered, timeout=15, interval=0.1)
        [participant] = await in_bridge(world, conference["id"], 1)
        assert participant["id"] > 0
        world.server.clock.advance(seconds=30)
        removed = await api(world.server, organiser, "DELETE", f"{path}/legs/{leg['id']}")
        assert removed.status_code == 204, removed.text
        hung_up = await phone.wait()
        assert hung_up.code == 0, hung_up.output  # answered, ACKed, then the edge's BYE
        assert "ACK sip:" in hung_up.messages
    finally:
        await phone.stop()
    async with world.server.app_context.db.session() as s:
        usage = (
            await s.execute(select(UsageRecord).where(UsageRecord.source_id == leg["id"]))
        ).scalar_one()
    assert (usage.user_id, usage.usage_type, usage.quantity_s) == (
        organiser.user_id,
        "call.audio",
        30,
    )


async def test_a_number_without_a_registered_phone_cannot_be_dialled(
    conference_world: ConferenceWorld, subscriber: Make
) -> None:
    world = conference_world
    organiser = await subscriber(online=False)
    conference = await open_conference(world, organiser)
    offline = await subscriber(online=False)
    refused = await api(
        world.server,
        organiser,
        "POST",
        f"/conferences/{conference['id']}/dial-outs",
        {"number": offline.number},
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        409,
        "conference_callee_unreachable",
    )
