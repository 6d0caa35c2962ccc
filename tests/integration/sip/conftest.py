"""A Yuntong with its SIP edge (a supervised Kamailio on free ports) in the test's loop, on
each backend; a carrier trunk at a port where a SIPp answers when a test needs it; subscribers
with numbers, SIP credentials and services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import own_database, unique
from tests.integration.supplementary.conftest import Make, Subscriber, api
from tests.integration.supplementary.conftest import subscriber as subscriber
from tests.integration.tariffs.conftest import PRICES
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.server import wait_for
from tests.support.sipp import Edge, edge_answers, free_udp_port
from yuntong.accounts import directory
from yuntong.accounts.auth import principal_for
from yuntong.tariffs.imports import do_import_prices

DOMAIN = "yuntong.test"


@dataclass
class SipWorld:
    server: InProcessServer
    edge: Edge
    trunk_port: int
    tls_port: int


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def sip_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SipWorld]:
    folder = tmp_path_factory.mktemp("sip")
    port, trunk_port, tls_port = free_udp_port(), free_udp_port(), free_udp_port()
    async with (
        own_database(request.param, folder) as url,
        inprocess_server(
            folder / "var",
            url,
            start_sip=True,
            sip_port=port,
            sip_tls_port=tls_port,
            sip_domain=DOMAIN,
            sip_children=2,
            sip_trunks=[{"code": "carrier", "host": "127.0.0.1", "port": trunk_port}],
        ) as server,
    ):
        fifo = Path(server.settings.var_dir) / "sip" / "kamailio_rpc.fifo"
        await wait_for(fifo.exists, timeout=20, interval=0.05)
        edge = Edge("127.0.0.1", port, DOMAIN)
        await wait_for(lambda: asyncio.to_thread(edge_answers, edge), timeout=20, interval=0.2)
        # the operator's outside-call prices (docs/tariffs.md): calls out need a tariff
        ctx = server.app_context
        staff_id = await server.create_user(unique("staff"), role="operator_admin")
        staff = principal_for(await directory.get_user(ctx, staff_id), "", "cli")
        await do_import_prices(ctx, staff, PRICES)
        yield SipWorld(server, edge, trunk_port, tls_port)


@pytest.fixture
def server(sip_world: SipWorld) -> InProcessServer:
    return sip_world.server


@dataclass
class Phone:
    """A subscriber and the SIP account of their number."""

    who: Subscriber
    username: str
    password: str


async def sip_account(server: InProcessServer, who: Subscriber) -> Phone:
    resp = await api(server, who, "POST", f"/numbers/{who.number}/sip-credentials")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return Phone(who, body["username"], body["password"])


__all__ = ["Make", "Phone", "SipWorld", "sip_account"]
