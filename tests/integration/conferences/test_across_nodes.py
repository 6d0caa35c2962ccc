"""One bridge for a conference, whichever node is asked: a phone answered by node A's edge is
listed and muted through node B, which reaches the same AudioBridge room from the conference's
row and the shared secret key (SQLite and PostgreSQL, real Kamailio, Janus and SIPp)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.conferences.conftest import ConferenceWorld, Make, api, sip_account
from tests.integration.conferences.test_dial_in import PIN, dial
from tests.integration.conferences.test_moderator import in_bridge, open_conference
from tests.integration.supplementary.conftest import Subscriber
from tests.support.inprocess import inprocess_server
from tests.support.server import wait_for


async def test_a_phone_on_one_node_is_controlled_through_another(
    conference_world: ConferenceWorld, subscriber: Make, tmp_path: Path
) -> None:
    world = conference_world
    a = world.server
    organiser = await subscriber(online=False)
    conference = await open_conference(world, organiser)
    heidi = await sip_account(a, await subscriber(online=False))
    call = asyncio.create_task(
        dial(world, heidi, f"{organiser.number}*{PIN}", tmp_path / "heidi", hung_up=True)
    )
    async with inprocess_server(
        tmp_path / "b",
        a.database_url,
        secret_key=a.settings.secret_key.get_secret_value(),
        janus_nodes=[world.janus.node("a")],
        redis_url=world.redis.url,
    ) as b:
        assert b.app_context.node_id != a.app_context.node_id
        on_b = Subscriber(
            organiser.client,
            organiser.user_id,
            organiser.number,
            organiser.token,
            organiser.username,
        )
        try:
            await in_bridge(world, conference["id"], 1)
            path = f"/conferences/{conference['id']}"

            async def listed_on_b() -> list[dict[str, object]]:
                found = await api(b, on_b, "GET", f"{path}/bridge")
                body: list[dict[str, object]] = found.json() if found.status_code == 200 else []
                return body

            [leg] = await wait_for(listed_on_b, timeout=10, interval=0.2)
            assert leg["kind"] == "phone"
            muted = await api(b, on_b, "POST", f"{path}/legs/{leg['id']}/mute", {"muted": True})
            assert muted.status_code == 200, muted.text
            [participant] = await in_bridge(world, conference["id"], 1)  # as node A sees it
            assert participant["muted"] is True
            ended = await api(b, on_b, "POST", f"{path}/end")
            assert ended.json()["state"] == "ended"
            hung_up = await asyncio.wait_for(call, 30)
            assert hung_up.code == 0, hung_up.output
        finally:
            call.cancel()
