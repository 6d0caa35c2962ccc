"""The edge on every transport it offers, and what it does with bad input: registration over
TCP (SIPp), the digest challenge over TLS (a TLS client), and datagrams that are no SIP or
broken SIP, after which the edge still answers (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

from tests.integration.sip.conftest import Make, SipWorld, sip_account
from tests.support.sipp import register_scenario, run


def _options(port: int, call_id: str) -> bytes:
    return (
        f"OPTIONS sip:yuntong.test SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id}\r\n"
        f"From: <sip:probe@yuntong.test>;tag={call_id}\r\n"
        "To: <sip:yuntong.test>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _udp_exchange(host: str, port: int, datagrams: list[bytes], last: bytes) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        for datagram in datagrams:
            s.sendto(datagram, (host, port))
        s.sendto(last.replace(b"PORT", str(s.getsockname()[1]).encode()), (host, port))
        while True:
            data, _ = s.recvfrom(65535)
            text = data.decode(errors="replace")
            if "OPTIONS" in text.split("\r\n\r\n")[0] and text.startswith("SIP/2.0"):
                return text


async def test_a_phone_registers_over_tcp(
    sip_world: SipWorld, subscriber: Make, tmp_path: Path
) -> None:
    alice = await sip_account(sip_world.server, await subscriber())
    done = await run(
        sip_world.edge,
        register_scenario(),
        tmp_path / "tcp",
        service=alice.username,
        user=alice.username,
        password=alice.password,
        transport="t1",
    )
    assert done.code == 0, done.output
    assert "transport=TCP" in done.messages or "SIP/2.0/TCP" in done.messages


def _tls_register(port: int, username: str) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the edge's own self-signed certificate
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        local = tls.getsockname()[1]
        tls.sendall(
            (
                "REGISTER sip:yuntong.test SIP/2.0\r\n"
                f"Via: SIP/2.0/TLS 127.0.0.1:{local};branch=z9hG4bKtls1\r\n"
                f"From: <sip:{username}@yuntong.test>;tag=t1\r\n"
                f"To: <sip:{username}@yuntong.test>\r\n"
                "Call-ID: tls-register-1\r\nCSeq: 1 REGISTER\r\n"
                f"Contact: <sip:{username}@127.0.0.1:{local};transport=tls>\r\n"
                "Max-Forwards: 70\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n"
            ).encode()
        )
        return tls.recv(65535).decode(errors="replace")


async def test_the_edge_challenges_a_registration_over_tls(
    sip_world: SipWorld, subscriber: Make
) -> None:
    alice = await sip_account(sip_world.server, await subscriber())
    answer = await asyncio.to_thread(_tls_register, sip_world.tls_port, alice.username)
    assert answer.startswith("SIP/2.0 401"), answer
    assert 'realm="yuntong.test"' in answer


async def test_malformed_datagrams_are_dropped_and_the_edge_still_answers(
    sip_world: SipWorld,
) -> None:
    junk = [
        b"\x00\x01garbage that is no SIP at all",
        b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n",  # no Call-ID, CSeq, From, To
        b"REGISTER sip:yuntong.test SIP/2.0\r\nContent-Length: 999999\r\n\r\nshort",
        b"\r\n\r\n",  # a keep-alive
    ]
    answer = await asyncio.to_thread(
        _udp_exchange,
        sip_world.edge.host,
        sip_world.edge.port,
        junk,
        _options(0, "probe-after-junk").replace(b"127.0.0.1:0", b"127.0.0.1:PORT"),
    )
    assert answer.startswith("SIP/2.0 200"), answer
