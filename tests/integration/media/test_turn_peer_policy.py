"""What the managed coturn relays to: public peers only, unless the operator allows more.

A signed-in user's TURN credentials must never open a path into the server's networks:
private, CGNAT, link-local (cloud metadata), loopback and the server's own addresses are
refused (403 to CreatePermission and ChannelBind), and so are TCP relays (RFC 6062).
Probed with a real TURN client against the coturn ``yuntong serve`` starts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import ifaddr
import pytest

from tests.conftest import unique
from tests.integration.media.coturn import free_udp_tcp_port, needs_coturn, running_coturn
from tests.integration.media.turn_probe import TurnProbe
from tests.support.net import wait_listening
from tests.support.server import ServerProcess, private_server
from yuntong.config import Settings
from yuntong.media.turn import ice_servers

pytestmark = needs_coturn

FORBIDDEN = 403
UNSUPPORTED_TRANSPORT = 442
PUBLIC_V4 = "8.8.8.8"
PUBLIC_V6 = "2001:4860:4860::8888"
PRIVATE_V4 = [
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.1",
    "192.168.1.1",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.169.254",  # cloud metadata
    "127.0.0.1",
    "127.1.2.3",
    "192.0.0.1",
    "198.18.0.1",
    "240.0.0.1",
]
PRIVATE_V6 = [
    "::1",
    "fd00::1",
    "fc00::1",
    "fe80::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
]


def own_addresses(version: int) -> list[str]:
    """This machine's interface addresses (what a relay could reach Yuntong on)."""
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            if ipaddress.ip_address(address).version == version:
                found.append(address)
    return found


def rest_credentials(settings: Settings, user: str = "probe") -> tuple[str, str]:
    """The TURN username and password GET /api/v1/ice-servers hands a signed-in user."""
    turn = [s for s in ice_servers(settings, user, datetime.now(UTC)) if "username" in s]
    assert turn, "the managed coturn must be offered"
    return turn[0]["username"], turn[0]["credential"]


async def served_credentials(server: ServerProcess) -> tuple[str, str]:
    """What GET /api/v1/ice-servers gives a signed-in user of the running server."""
    name = unique("turn")
    await server.create_user(name)
    token = await server.login(name)
    async with httpx.AsyncClient(base_url=server.url) as http:
        resp = await http.get("/api/v1/ice-servers", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    turn = [s for s in resp.json()["ice_servers"] if s.get("username")]
    assert turn, resp.text
    return turn[0]["username"], turn[0]["credential"]


@pytest.fixture
async def public_server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    """A Yuntong serving on every interface (0.0.0.0) with its own coturn."""
    base = random.randrange(50_000, 59_000, 100)
    async with private_server(
        tmp_path,
        YUNTONG_HOST="0.0.0.0",
        YUNTONG_START_COTURN="true",
        YUNTONG_COTURN_PORT=str(free_udp_tcp_port()),
        YUNTONG_COTURN_MIN_PORT=str(base),
        YUNTONG_COTURN_MAX_PORT=str(base + 99),
    ) as server:
        assert await wait_listening(int(server.env["YUNTONG_COTURN_PORT"]))
        yield server


async def test_public_coturn_relays_to_public_peers_only(public_server: ServerProcess) -> None:
    username, password = await served_credentials(public_server)
    coturn = ("127.0.0.1", int(public_server.env["YUNTONG_COTURN_PORT"]))
    http_port = public_server.port

    async with await TurnProbe.connect(coturn, username, password) as probe:
        assert await probe.allocate() == 200
        assert await probe.permit(PUBLIC_V4) == 200
        refused = {ip: await probe.permit(ip) for ip in [*PRIVATE_V4, *own_addresses(4)]}
        assert refused == dict.fromkeys(refused, FORBIDDEN)
        # a channel to Yuntong's own HTTP port, on loopback or on an interface address
        for ip in ["127.0.0.1", *own_addresses(4)]:
            assert await probe.bind_channel(ip, http_port) == FORBIDDEN, ip

        # a Send indication to a denied peer is never relayed
        loop = asyncio.get_running_loop()
        received: asyncio.Queue[bytes] = asyncio.Queue()
        listener, _ = await loop.create_datagram_endpoint(
            lambda: _Collect(received), local_addr=("127.0.0.1", 0)
        )
        try:
            probe.send(listener.get_extra_info("sockname"), b"into the server")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(received.get(), 1.5)
        finally:
            listener.close()

    async with await TurnProbe.connect(coturn, username, password) as probe:
        assert await probe.allocate(family=6) == 200
        assert await probe.permit(PUBLIC_V6) == 200
        refused = {ip: await probe.permit(ip) for ip in [*PRIVATE_V6, *own_addresses(6)]}
        assert refused == dict.fromkeys(refused, FORBIDDEN)

    # RFC 6062: a TCP relay (which reached Yuntong's HTTP port) is not offered
    async with await TurnProbe.connect(coturn, username, password, over="tcp") as probe:
        assert await probe.allocate(relay="tcp") == UNSUPPORTED_TRANSPORT


class _Collect(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)


async def test_operator_allowed_ranges_are_relayed_and_nothing_else(tmp_path: Path) -> None:
    async with running_coturn(
        tmp_path / "var", host="0.0.0.0", turn_allowed_peer_ips=["10.0.0.0/8", "192.168.7.7"]
    ) as coturn:
        creds = rest_credentials(coturn.settings)
        async with await TurnProbe.connect(coturn.address, *creds) as probe:
            assert await probe.allocate() == 200
            answers = {
                ip: await probe.permit(ip)
                for ip in ["10.0.0.1", "10.200.3.4", "192.168.7.7", "192.168.7.8", "172.16.0.1"]
            }
    assert answers == {
        "10.0.0.1": 200,
        "10.200.3.4": 200,
        "192.168.7.7": 200,
        "192.168.7.8": FORBIDDEN,
        "172.16.0.1": FORBIDDEN,
    }


async def test_loopback_coturn_refuses_loopback_peers_unless_allowed(tmp_path: Path) -> None:
    """Even on one machine, loopback is relayed only when the operator lists it."""
    async with (
        running_coturn(tmp_path / "var", turn_allowed_peer_ips=[]) as coturn,
        await TurnProbe.connect(coturn.address, *rest_credentials(coturn.settings)) as probe,
    ):
        assert await probe.allocate() == 200
        assert await probe.permit("127.0.0.1") == FORBIDDEN
        assert await probe.permit("10.0.0.1") == FORBIDDEN


async def test_tcp_relays_only_when_configured(tmp_path: Path) -> None:
    async with running_coturn(tmp_path / "var", host="0.0.0.0", turn_tcp_relay=True) as coturn:
        creds = rest_credentials(coturn.settings)
        async with await TurnProbe.connect(coturn.address, *creds, over="tcp") as probe:
            assert await probe.allocate(relay="tcp") == 200
            assert await probe.permit("10.0.0.1") == FORBIDDEN  # still only public peers
