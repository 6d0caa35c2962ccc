"""A real TURN client for probing what a coturn lets a user relay to.

It speaks TURN through aioice's client protocol (long-term credentials, the 401/nonce dance)
but, unlike ``create_turn_endpoint``, asks for exactly what it is told: an allocation of a
given relay transport (UDP, or TCP as in RFC 6062) and address family, then permissions and
channels for chosen peers, and reports coturn's answer (200 or the STUN error code).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from types import TracebackType

from aioice import stun
from aioice.turn import TCP_TRANSPORT, UDP_TRANSPORT, TurnClientTcpProtocol, TurnClientUdpProtocol

# RFC 6156 REQUESTED-ADDRESS-FAMILY (0x01 IPv4, 0x02 IPv6 in the first byte); aioice does not
# know it, so it is added to its attribute tables (encoded like REQUESTED-TRANSPORT).
_FAMILY = (0x0017, "REQUESTED-ADDRESS-FAMILY", stun.pack_unsigned, stun.unpack_unsigned)
stun.ATTRIBUTES_BY_TYPE.setdefault(_FAMILY[0], _FAMILY)
stun.ATTRIBUTES_BY_NAME.setdefault(_FAMILY[1], _FAMILY)

TIMEOUT_S = 10


class TurnProbe:
    """One connection to a TURN server holding at most one allocation."""

    def __init__(
        self,
        protocol: TurnClientUdpProtocol | TurnClientTcpProtocol,
        transport: asyncio.BaseTransport,
    ) -> None:
        self.protocol = protocol
        self.transport = transport
        self.relayed: tuple[str, int] | None = None

    @classmethod
    async def connect(
        cls, server: tuple[str, int], username: str, password: str, *, over: str = "udp"
    ) -> TurnProbe:
        """Open a UDP (or, ``over="tcp"``, a TCP) connection to the TURN server."""
        loop = asyncio.get_running_loop()
        transport: asyncio.BaseTransport
        protocol: TurnClientUdpProtocol | TurnClientTcpProtocol
        async with asyncio.timeout(TIMEOUT_S):
            if over == "tcp":
                transport, protocol = await loop.create_connection(
                    lambda: TurnClientTcpProtocol(server, username, password, 600, 500),
                    host=server[0],
                    port=server[1],
                )
            else:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: TurnClientUdpProtocol(server, username, password, 600, 500),
                    remote_addr=server,
                )
        return cls(protocol, transport)

    async def __aenter__(self) -> TurnProbe:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self.relayed is not None:  # release the allocation (a Refresh with lifetime 0)
            refresh = stun.Message(stun.Method.REFRESH, stun.Class.REQUEST)
            refresh.attributes["LIFETIME"] = 0
            with contextlib.suppress(Exception):
                await self._request(refresh)
            self.relayed = None
        self.transport.close()

    async def _request(self, message: stun.Message) -> int:
        """Run one transaction; 200 on success, else the error code coturn answered."""
        try:
            async with asyncio.timeout(TIMEOUT_S):
                response, _ = await self.protocol.request_with_retry(message)
        except stun.TransactionFailed as failure:
            return int(failure.response.attributes["ERROR-CODE"][0])
        if message.message_method == stun.Method.ALLOCATE:
            self.relayed = response.attributes["XOR-RELAYED-ADDRESS"]
        return 200

    async def allocate(self, *, relay: str = "udp", family: int = 4) -> int:
        """Ask for a relay of transport ``relay`` ("udp" or "tcp") and IP ``family`` (4, 6)."""
        request = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)
        request.attributes["LIFETIME"] = 600
        request.attributes["REQUESTED-TRANSPORT"] = (
            TCP_TRANSPORT if relay == "tcp" else UDP_TRANSPORT
        )
        if family == 6:
            request.attributes["REQUESTED-ADDRESS-FAMILY"] = 0x02000000
        return await self._request(request)

    async def permit(self, ip: str, port: int = 9) -> int:
        """CreatePermission for ``ip`` (the port is ignored by TURN, but must be sent)."""
        request = stun.Message(stun.Method.CREATE_PERMISSION, stun.Class.REQUEST)
        request.attributes["XOR-PEER-ADDRESS"] = (str(ipaddress.ip_address(ip)), port)
        return await self._request(request)

    async def bind_channel(self, ip: str, port: int, channel: int = 0x4000) -> int:
        """ChannelBind ``channel`` to ``ip:port`` (also installs a permission)."""
        request = stun.Message(stun.Method.CHANNEL_BIND, stun.Class.REQUEST)
        request.attributes["CHANNEL-NUMBER"] = channel
        request.attributes["XOR-PEER-ADDRESS"] = (str(ipaddress.ip_address(ip)), port)
        return await self._request(request)

    def send(self, peer: tuple[str, int], data: bytes) -> None:
        """A Send indication: relayed only if a permission for the peer's IP exists."""
        indication = stun.Message(stun.Method.SEND, stun.Class.INDICATION)
        indication.attributes["XOR-PEER-ADDRESS"] = peer
        indication.attributes["DATA"] = data
        self.protocol.send_stun(indication, self.protocol.server)
