"""A do-not-disturb schedule set on one node applies on the other when its window starts, with
nothing written then: the Redis cache holds the schedule, not a yes or no (two nodes, one
PostgreSQL database, one private Redis, one clock moved by hand)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique
from tests.support.nodes import Nodes, two_nodes
from tests.support.redis import RedisServer
from tests.support.wsclient import FAKE_SDP
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.billing.orders.orders import do_place_order
from yuntong.core.clock import FakeClock
from yuntong.presence.dnd import CALENDAR
from yuntong.presence.service import status_of
from yuntong.supplementary import products


@pytest.fixture
async def nodes(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Nodes]:
    async with two_nodes(
        "postgres",
        tmp_path,
        redis_server.url,
        heartbeat_interval_s=float(timedelta(days=1).total_seconds()),  # sockets outlive moves
    ) as started:
        yield started


async def order_schedules(nodes: Nodes, user_id: int) -> None:
    """Scheduled do-not-disturb (a paid service) added to the catalogue and ordered."""
    ctx = nodes.a.app_context
    staff_id = await nodes.a.create_user(unique("staff"), role="operator_admin")
    staff = principal_for(await directory.get_user(ctx, staff_id), "", "cli")
    await products.do_add_products(ctx, staff)
    user = principal_for(await directory.get_user(ctx, user_id), "", "web")
    await do_place_order(ctx, user, None, [products.BY_SERVICE["dnd_schedule"].code])


def local_hhmm(clock: FakeClock, nodes: Nodes, minutes: int) -> str:
    """The business-time ``HH:MM`` ``minutes`` after the clock's next whole minute."""
    tz = nodes.a.app_context.services.get(CALENDAR).tz
    at = clock.now().astimezone(tz).replace(second=0, microsecond=0)
    return (at + timedelta(minutes=1 + minutes)).strftime("%H:%M")


async def test_a_window_set_on_one_node_starts_on_the_other_without_a_write(
    nodes: Nodes,
) -> None:
    bob = await nodes.user("bob")
    carol = await nodes.user("carol")
    bob_a = await nodes.connect(nodes.a, bob, "bob-a")
    carol_b = await nodes.connect(nodes.b, carol, "carol-b")
    bob_id = bob_a.hello["user"]["user_id"]
    token = await nodes.a.login(bob)
    await order_schedules(nodes, bob_id)
    async with httpx.AsyncClient(base_url=nodes.a.url) as http:
        auth = {"Authorization": f"Bearer {await nodes.b.login(carol)}"}
        added = await http.post("/api/v1/contacts", json={"query": bob}, headers=auth)
        assert added.status_code == 201, added.text
        # a window from two minutes on, for an hour (every day), set on node a
        start, end = local_hhmm(nodes.clock, nodes, 1), local_hhmm(nodes.clock, nodes, 61)
        body = {"days": "every_day", "start": start, "end": end}
        created = await http.post(
            "/api/v1/presence/dnd/schedules",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
    on_b = nodes.b.app_context
    assert await status_of(on_b, bob_id) == "online"  # node b has read (and cached) it

    carol_b.events.clear()
    await nodes.advance(3 * 60)  # the window has started
    assert await status_of(on_b, bob_id) == "dnd"
    ack = await carol_b.request("call.invite", {"to": bob, "media": "audio", "sdp": FAKE_SDP})
    assert (ack["ended"]["outcome"], ack["ended"]["reason"]) == ("busy", "dnd")
    assert not bob_a.has("call.incoming", call_id=ack["call_id"])
    # node a, where bob is online, pushed the news to carol on node b
    await carol_b.expect("presence", user_id=bob_id, status="dnd")

    await nodes.advance(61 * 60)  # and has ended
    assert await status_of(on_b, bob_id) == "online"
    await carol_b.expect("presence", user_id=bob_id, status="online")
