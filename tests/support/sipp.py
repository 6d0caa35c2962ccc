"""SIPp (Debian ``sip-tester``) as the SIP phones and carrier trunks of a test.

Each helper writes a small scenario and runs ``sipp`` against the edge; a phone that must be
called is a UAS started in the background (:class:`Uas`) on the port it registered from.
Every message a SIPp saw is written to a message file the test can read (which headers the
far end received). Processes are stopped on every path.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

SIPP = shutil.which("sipp") or "sipp"

SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
"""


def free_udp_port() -> int:
    """A loopback port free for both UDP and TCP (SIP listens on both, TLS on TCP)."""
    for _ in range(50):
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        ):
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free for both UDP and TCP")


def edge_answers(edge: Edge) -> bool:
    """Whether the edge answers an OPTIONS (it is up and bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.5)
        local = s.getsockname()[1]
        probe = (
            f"OPTIONS sip:{edge.domain} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKready{local}\r\n"
            f"From: <sip:ready@{edge.domain}>;tag=r{local}\r\nTo: <sip:{edge.domain}>\r\n"
            f"Call-ID: ready-{local}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        s.sendto(probe.encode(), (edge.host, edge.port))
        try:
            data, _ = s.recvfrom(65535)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 200")


def _headers(method: str, uri: str, cseq: int, extra: str = "") -> str:
    return (
        f"{method} {uri} SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        "From: <sip:[service]@[domain]>;tag=[pid]SIPpTag00[call_number]\n"
        f"To: <{uri}>\n"
        "Call-ID: [call_id]\n"
        f"CSeq: {cseq} {method}\n"
        "Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>\n"
        "Max-Forwards: 70\n"
        f"{extra}"
    )


def _send(text: str, *, retrans: bool = True) -> str:
    attr = ' retrans="500"' if retrans else ""
    return f"  <send{attr}><![CDATA[\n{text}\n]]></send>\n"


def register_scenario(expect: int = 200, expires: int = 300) -> str:
    uri = "sip:[service]@[domain]"
    first = _headers("REGISTER", uri, 1, f"Expires: {expires}\nContent-Length: 0\n")
    second = _headers(
        "REGISTER", uri, 2, f"[authentication]\nExpires: {expires}\nContent-Length: 0\n"
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="register">\n'
        + _send(first)
        + '  <recv response="401" auth="true"/>\n'
        + _send(second)
        + f'  <recv response="{expect}"/>\n</scenario>\n'
    )


def _ack_failure(uri: str, cseq: int) -> str:
    return _send(
        f"ACK {uri} SIP/2.0\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
        f"CSeq: {cseq} ACK\nMax-Forwards: 70\nContent-Length: 0\n",
        retrans=False,
    )


def invite_scenario(
    to: str,
    expect: int = 200,
    *,
    auth: bool = True,
    hold_ms: int = 1000,
    extra: str = "",
    hung_up: bool = False,
) -> str:
    """A phone calls ``to`` (the Request-URI user), authenticating if ``auth``; ``expect``
    is the final response; an answered call is held ``hold_ms`` and hung up (BYE)."""
    uri = f"sip:{to}@[domain]"
    body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{SDP}"
    parts = ['<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="invite">\n']
    cseq = 1
    if auth:
        parts.append(_send(_headers("INVITE", uri, 1, extra + body)))
        parts.append('  <recv response="100" optional="true"/>\n')
        parts.append('  <recv response="407" auth="true"/>\n')
        parts.append(_ack_failure(uri, 1))
        cseq = 2
        parts.append(_send(_headers("INVITE", uri, 2, "[authentication]\n" + extra + body)))
    else:
        parts.append(_send(_headers("INVITE", uri, 1, extra + body)))
    parts.append('  <recv response="100" optional="true"/>\n')
    parts.append('  <recv response="180" optional="true"/>\n')
    parts.append('  <recv response="183" optional="true"/>\n')
    if expect != 200:
        parts.append(f'  <recv response="{expect}"/>\n')
        parts.append(_ack_failure(uri, cseq))
        parts.append("</scenario>\n")
        return "".join(parts)
    parts.append('  <recv response="200" rrs="true"/>\n')
    parts.append(
        _send(
            "ACK [next_url] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];"
            "branch=[branch]\n[last_From:]\n[last_To:]\n[routes]\n[last_Call-ID:]\n"
            f"CSeq: {cseq} ACK\nMax-Forwards: 70\nContent-Length: 0\n",
            retrans=False,
        )
    )
    if hung_up:  # the far end (or the edge) ends the call: answer its BYE
        parts.append(f'  <recv request="BYE" timeout="{hold_ms}"/>\n')
        parts.append(
            _send(
                "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
                "[last_CSeq:]\nContent-Length: 0\n",
                retrans=False,
            )
        )
        parts.append("</scenario>\n")
        return "".join(parts)
    parts.append(f'  <pause milliseconds="{hold_ms}"/>\n')
    parts.append(
        _send(
            "BYE [next_url] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];"
            "branch=[branch]\n[last_From:]\n[last_To:]\n[routes]\n[last_Call-ID:]\n"
            f"CSeq: {cseq + 1} BYE\nMax-Forwards: 70\nContent-Length: 0\n"
        )
    )
    parts.append('  <recv response="200"/>\n</scenario>\n')
    return "".join(parts)


def uas_scenario(answer: int = 200, ring_ms: int = 200) -> str:
    """A phone (or trunk) that rings ``ring_ms`` and answers ``answer``; an answered call
    waits for the caller's BYE."""
    reply_head = "[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n"
    reply_head += "[last_Record-Route:]\n[last_Call-ID:]\n[last_CSeq:]\n"
    contact = "Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>\n"
    parts = ['<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="uas">\n']
    parts.append('  <recv request="INVITE" crlf="true"/>\n')
    parts.append(
        _send(f"SIP/2.0 180 Ringing\n{reply_head}{contact}Content-Length: 0\n", retrans=False)
    )
    parts.append(f'  <pause milliseconds="{ring_ms}"/>\n')
    if answer != 200:
        parts.append(
            _send(f"SIP/2.0 {answer} Refused\n{reply_head}Content-Length: 0\n", retrans=False)
        )
        parts.append('  <recv request="ACK"/>\n</scenario>\n')
        return "".join(parts)
    parts.append(
        '  <send retrans="500"><![CDATA[\n'
        f"SIP/2.0 200 OK\n{reply_head}{contact}"
        f"Content-Type: application/sdp\nContent-Length: [len]\n\n{SDP}\n]]></send>\n"
    )
    parts.append('  <recv request="ACK" crlf="true"/>\n')
    parts.append('  <recv request="BYE"/>\n')
    parts.append(_send(f"SIP/2.0 200 OK\n{reply_head}Content-Length: 0\n", retrans=False))
    parts.append("</scenario>\n")
    return "".join(parts)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _read(folder: Path) -> str:
    messages = folder / "messages.log"
    return messages.read_text(errors="replace") if messages.exists() else ""


@dataclass
class Edge:
    """Where the SIP edge of a test listens."""

    host: str
    port: int
    domain: str


@dataclass
class Run:
    code: int
    output: str
    messages: str


def _argv(
    edge: Edge,
    scenario: Path,
    port: int,
    service: str,
    user: str,
    password: str,
    folder: Path,
    transport: str = "u1",
    rtp_echo: bool = False,
) -> list[str]:
    argv = [SIPP, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-m", "1"]
    argv += ["-t", transport]
    if rtp_echo:  # the RTP it receives on its media port goes back where it came from
        argv.append("-rtp_echo")
    argv += ["-s", service, "-key", "domain", edge.domain, "-nostdin", "-trace_msg"]
    argv += ["-message_file", str(folder / "messages.log"), "-mp", str(free_udp_port())]
    argv += ["-timeout", "20s", "-timeout_error", "-recv_timeout", "15000"]
    if user:
        argv += ["-au", user, "-ap", password]
    return argv


async def run(
    edge: Edge,
    scenario_text: str,
    folder: Path,
    *,
    service: str,
    user: str = "",
    password: str = "",
    port: int | None = None,
    transport: str = "u1",
    rtp_echo: bool = False,
) -> Run:
    """Run one SIPp call to the edge; its exit code (0: the scenario passed) and messages."""
    scenario = folder / "scenario.xml"
    await asyncio.to_thread(_write, scenario, scenario_text)
    argv = _argv(
        edge,
        scenario,
        port or free_udp_port(),
        service,
        user,
        password,
        folder,
        transport=transport,
        rtp_echo=rtp_echo,
    )
    argv.append(f"{edge.host}:{edge.port}")
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=folder
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 40)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return Run(proc.returncode or 0, out.decode(errors="replace")[-3000:], _read(folder))


@dataclass
class Uas:
    """A SIPp answering on ``port`` in the background (a registered phone, a trunk)."""

    edge: Edge
    folder: Path
    port: int
    answer: int = 200
    service: str = "phone"
    rtp_echo: bool = False
    proc: asyncio.subprocess.Process | None = field(default=None, init=False)

    async def start(self) -> None:
        scenario = self.folder / "uas.xml"
        await asyncio.to_thread(_write, scenario, uas_scenario(self.answer))
        argv = _argv(
            self.edge,
            scenario,
            self.port,
            self.service,
            "",
            "",
            self.folder,
            rtp_echo=self.rtp_echo,
        )
        self.proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=self.folder
        )
        await asyncio.sleep(0.3)  # bound to its port

    async def wait(self, timeout: float = 30) -> Run:
        """Wait for its one call to finish; its exit code and the messages it saw."""
        assert self.proc is not None
        try:
            out, _ = await asyncio.wait_for(self.proc.communicate(), timeout)
        finally:
            await self.stop()
        code = self.proc.returncode or 0
        return Run(code, out.decode(errors="replace")[-3000:], _read(self.folder))

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            with contextlib.suppress(Exception):
                await self.proc.wait()
