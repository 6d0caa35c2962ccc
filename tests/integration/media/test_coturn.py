"""coturn under the supervisor: REST credentials from turn.py open real TURN allocations."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from datetime import UTC, datetime, timedelta

import pytest
from aioice.stun import TransactionFailed
from aioice.turn import TurnTransport, create_turn_endpoint

from tests.integration.media.coturn import Coturn
from tests.support.server import wait_for
from yuntong.media.supervisor import CHILDREN
from yuntong.media.turn import TurnCredentials, ice_servers, turn_credentials


class Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))


async def allocate(
    coturn: Coturn, creds: TurnCredentials, transport: str = "udp"
) -> tuple[TurnTransport, Collector]:
    async with asyncio.timeout(10):
        return await create_turn_endpoint(
            Collector,
            server_addr=coturn.address,
            username=creds.username,
            password=creds.credential,
            transport=transport,
        )


def rest_credentials(coturn: Coturn, user_id: str = "alice") -> TurnCredentials:
    """The credentials a client gets from GET /ice-servers (turn.ice_servers)."""
    turn = [s for s in ice_servers(coturn.settings, user_id, datetime.now(UTC)) if "username" in s]
    assert turn, "managed coturn must be offered"
    return TurnCredentials(turn[0]["username"], turn[0]["credential"], 0)


async def assert_relays_to_loopback_peer(relay: TurnTransport, client: Collector) -> None:
    loop = asyncio.get_running_loop()
    peer_transport, peer = await loop.create_datagram_endpoint(
        Collector, local_addr=("127.0.0.1", 0)
    )
    try:
        peer_addr = peer_transport.get_extra_info("sockname")
        relay.sendto(b"ping via turn", peer_addr)
        data, source = await asyncio.wait_for(peer.received.get(), 5)
        assert data == b"ping via turn"
        assert source == relay.get_extra_info("sockname")
        peer_transport.sendto(b"pong", source)
        data, source = await asyncio.wait_for(client.received.get(), 5)
        assert (data, source) == (b"pong", peer_addr)
    finally:
        peer_transport.close()


async def test_managed_coturn_reports_running(coturn: Coturn) -> None:
    assert coturn.children.status() == {"coturn": "running", "janus": "disabled"}
    assert coturn.ctx.services.get(CHILDREN).value is coturn.children
    conf = (coturn.settings.var_dir / "coturn" / "turnserver.conf").read_text()
    assert f"listening-port={coturn.settings.coturn_port}" in conf
    assert "allow-loopback-peers" in conf
    # its folder and log are the server user's only (the log names peers and TURN users)
    folder = coturn.settings.var_dir / "coturn"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "turnserver.log").stat().st_mode) == 0o600


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_allocation_with_rest_credentials_relays_to_a_loopback_peer(
    coturn: Coturn, transport: str
) -> None:
    relay, client = await allocate(coturn, rest_credentials(coturn), transport)
    try:
        host, port = relay.get_extra_info("sockname")
        assert host == "127.0.0.1"
        assert coturn.settings.coturn_min_port <= port <= coturn.settings.coturn_max_port
        await assert_relays_to_loopback_peer(relay, client)
    finally:
        relay.close()


async def test_allocation_with_a_wrong_secret_is_refused_with_401(coturn: Coturn) -> None:
    creds = turn_credentials("not-the-secret", "alice", datetime.now(UTC), 3600)
    with pytest.raises(TransactionFailed) as failure:
        await allocate(coturn, creds)
    assert failure.value.response.attributes["ERROR-CODE"][0] == 401


async def test_expired_credentials_are_refused_with_401(coturn: Coturn) -> None:
    secret = coturn.settings.turn_secret.get_secret_value()
    creds = turn_credentials(secret, "alice", datetime.now(UTC) - timedelta(hours=2), 3600)
    with pytest.raises(TransactionFailed) as failure:
        await allocate(coturn, creds)
    assert failure.value.response.attributes["ERROR-CODE"][0] == 401


async def test_supervisor_restarts_coturn_after_sigkill(coturn: Coturn) -> None:
    old_pid = coturn.process.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    await wait_for(lambda: coturn.children.status()["coturn"] == "restarting", timeout=5)
    async with asyncio.timeout(10):
        new_pid = await coturn.process.wait_running(new_pid_than=old_pid)
    assert coturn.process.restarts == 1
    assert coturn.process.last_exit_code == -signal.SIGKILL
    async with asyncio.timeout(10):
        while True:  # the new coturn needs a moment to bind its port again
            try:
                relay, _ = await allocate(coturn, rest_credentials(coturn))
                break
            except (TimeoutError, ConnectionError, TransactionFailed):
                await asyncio.sleep(0.2)
    relay.close()
    assert coturn.process.pid == new_pid


async def test_stop_terminates_coturn(coturn: Coturn) -> None:
    pid = coturn.process.pid
    assert pid is not None
    await coturn.children.stop()
    assert coturn.children.status() == {"coturn": "stopped", "janus": "disabled"}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
