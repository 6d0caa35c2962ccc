"""A Yuntong with its SIP edge (a supervised Kamailio, a carrier trunk) and a Janus node of its
own (AudioBridge loaded), in the test's loop, on each backend; subscribers with numbers and SIP
accounts."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import own_database
from tests.integration.sip.conftest import Phone, sip_account
from tests.integration.supplementary.conftest import Make, Subscriber, api
from tests.integration.supplementary.conftest import subscriber as subscriber
from tests.support.inprocess import InProcessServer, inprocess_server
from tests.support.janus import Janus, running_janus
from tests.support.redis import RedisServer
from tests.support.server import wait_for
from tests.support.sipp import Edge, free_udp_port

DOMAIN = "yuntong.test"


@dataclass
class ConferenceWorld:
    server: InProcessServer
    edge: Edge
    janus: Janus
    trunk_port: int  # a carrier's trunk sends from here
    redis: RedisServer  # the nodes' bus (a second node joins it: test_across_nodes)


def free_sip_port() -> int:
    """A port free for both UDP and TCP (Kamailio listens on both; it exits if TCP is taken)."""
    while True:
        port = free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def conference_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ConferenceWorld]:
    folder = tmp_path_factory.mktemp("conferences")
    port, trunk_port = free_sip_port(), free_udp_port()
    redis = RedisServer(folder / "redis")
    redis.start()
    try:
        async with (
            running_janus(folder / "janus") as janus,
            own_database(request.param, folder) as url,
            inprocess_server(
                folder / "var",
                url,
                start_sip=True,
                sip_port=port,
                sip_tls_port=None,
                sip_domain=DOMAIN,
                sip_children=2,
                janus_nodes=[janus.node("a")],
                sip_trunks=[{"code": "carrier", "host": "127.0.0.1", "port": trunk_port}],
                redis_url=redis.url,
            ) as server,
        ):
            fifo = Path(server.settings.var_dir) / "sip" / "kamailio_rpc.fifo"
            await wait_for(fifo.exists, timeout=20, interval=0.05)
            edge = Edge("127.0.0.1", port, DOMAIN)
            yield ConferenceWorld(server, edge, janus, trunk_port, redis)
    finally:
        redis.stop()


@pytest.fixture
def server(conference_world: ConferenceWorld) -> InProcessServer:
    return conference_world.server


__all__ = ["Make", "Phone", "Subscriber", "api", "sip_account"]
