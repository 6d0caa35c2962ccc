"""The SIP edge this node runs: Kamailio, written from the settings and supervised like Janus
and coturn (:mod:`yuntong.media.supervisor`), and the few things Yuntong asks it over its
JSON-RPC FIFO (forget a cached credential, the contacts a number has registered)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import secrets
import select
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yuntong.core.context import Context, Piece, Slot
from yuntong.core.ids import new_id
from yuntong.core.logging import get_logger
from yuntong.media.supervisor import (
    Children,
    SupervisedProcess,
    coturn_listen_ip,
    stop_stale,
)
from yuntong.sip import records
from yuntong.sip.kamailio_config import EdgeConfig, TrunkPeer, write_kamailio_config
from yuntong.sip.models import SipCall

log = get_logger(__name__)

KAMAILIO_BINARY = "kamailio"
EDGE_USER = "edge"  # the Basic-auth user Kamailio asks /internal/sip/* as
CONTROL_PATH = "/internal/sip"
RPC_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class LocalEdge:
    """How this node reaches the Kamailio it runs (its password is new at every start)."""

    password: str
    directory: Path

    @property
    def fifo(self) -> Path:
        return self.directory / "kamailio_rpc.fifo"


LOCAL_EDGE = Piece(
    "sip.local_edge",
    "node-owned live state",
    lambda ctx: Slot[LocalEdge](),
    "the Kamailio this node runs as its SIP edge (None: it runs none), set when it is started",
)


def local_edge(ctx: Context) -> LocalEdge | None:
    return ctx.services.get(LOCAL_EDGE).value


async def start_sip_edge(ctx: Context, children: Children) -> LocalEdge | None:
    """Start this node's Kamailio; never fails start-up (the edge is marked unavailable)."""
    settings = ctx.settings
    if not settings.start_sip:
        children.mark("kamailio", "disabled")
        return None
    binary = shutil.which(KAMAILIO_BINARY)
    if binary is None:
        log.error("sip_edge_unavailable", binary=KAMAILIO_BINARY)
        children.mark("kamailio", "unavailable")
        return None
    directory = settings.var_dir / "sip"
    local = LocalEdge(password=secrets.token_urlsafe(24), directory=directory)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        cert, key = (None, None)
        if settings.sip_tls_port is not None:
            cert, key = ensure_tls_certificate(directory, settings.sip_domain or "yuntong.local")
        ip = coturn_listen_ip(settings) or "127.0.0.1"
        host = f"[{ip}]" if ":" in ip else ip
        conf = write_kamailio_config(
            EdgeConfig(
                directory=directory,
                host=settings.sip_host,
                port=settings.sip_port,
                tls_port=settings.sip_tls_port,
                domain=settings.sip_domain or "yuntong.local",
                control_url=f"http://{EDGE_USER}:{local.password}@{host}:{settings.port}"
                + CONTROL_PATH,
                trunks=tuple(
                    TrunkPeer(t.code, t.host, t.port, t.transport) for t in settings.sip_trunks
                ),
                children=settings.sip_children,
                tls_cert=cert,
                tls_key=key,
            )
        )
    except (OSError, ValueError) as exc:
        log.error("sip_edge_unavailable", error=str(exc))
        children.mark("kamailio", "unavailable")
        return None
    pidfile = directory / "kamailio.pid"
    await stop_stale(pidfile, str(conf))
    with contextlib.suppress(FileNotFoundError):
        local.fifo.unlink()
    kamailio = SupervisedProcess(
        "kamailio",
        [binary, "-DD", "-E", "-f", str(conf), "-P", str(pidfile), "-Y", str(directory)],
        log_path=directory / "kamailio.log",
        cwd=directory,
    )
    children.add(kamailio)
    await kamailio.start()
    ctx.services.get(LOCAL_EDGE).value = local
    return local


def ensure_tls_certificate(directory: Path, domain: str) -> tuple[Path, Path]:
    """A self-signed certificate for SIP over TLS, made once (replace it with the operator's:
    same file names, docs/sip.md)."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    if cert.exists() and key.exists():
        return cert, key
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(private, hashes.SHA256())
    )
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


# --- JSON-RPC over the FIFO ---------------------------------------------------------------


def _rpc_blocking(fifo: Path, method: str, params: list[Any], timeout_s: float) -> Any:
    name = f"yt-rpc-{secrets.token_hex(8)}"  # Kamailio takes a bare name in its folder
    reply = fifo.parent / name
    try:
        os.mkfifo(reply, 0o600)
        request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        request |= {"reply_name": name, "id": 1}
        # non-blocking both ways: a Kamailio that does not answer never holds this thread
        reader = os.open(reply, os.O_RDONLY | os.O_NONBLOCK)
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            with os.fdopen(writer, "w") as out:
                out.write(json.dumps(request) + "\n")
            data = b""
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                ready, _, _ = select.select([reader], [], [], 0.05)
                if not ready:
                    continue
                chunk = os.read(reader, 65536)
                if chunk:
                    data += chunk
                elif data:
                    break  # the writer closed after answering
                else:
                    time.sleep(0.005)  # no writer yet: a FIFO reads as end of file
            return json.loads(data) if data else None
        finally:
            os.close(reader)
    finally:
        with contextlib.suppress(FileNotFoundError):
            reply.unlink()


async def rpc(ctx: Context, method: str, *params: Any) -> Any:
    """One JSON-RPC command to this node's Kamailio; None when it runs none or did not answer."""
    local = local_edge(ctx)
    if local is None or not local.fifo.exists():
        return None
    try:
        return await asyncio.to_thread(
            _rpc_blocking, local.fifo, method, list(params), RPC_TIMEOUT_S
        )
    except (OSError, ValueError) as exc:
        log.warning("sip_edge_rpc_failed", method=method, error=type(exc).__name__)
        return None


async def forget_credentials(ctx: Context, username: str) -> None:
    """The edge asks for this username's HA1 again at its next request."""
    await rpc(ctx, "htable.delete", "ha1", username)


async def contacts_of(ctx: Context, username: str) -> list[str] | None:
    """The contact addresses registered for a username now (None: the edge did not answer)."""
    answer = await rpc(ctx, "ul.lookup", "location", username)
    if answer is None:
        return None
    result = answer.get("result")
    if not isinstance(result, dict):
        return []  # error 404: no such AoR
    found = []
    for item in result.get("Contacts", []):
        contact = item.get("Contact", item) if isinstance(item, dict) else None
        if isinstance(contact, dict) and isinstance(contact.get("Address"), str):
            found.append(contact["Address"])
    return found


# --- the edge another process of this node runs (the CLI) ---------------------------------


def running_edge_pid(var_dir: Path) -> int | None:
    """The pid of the Kamailio a Yuntong with ``var_dir`` runs on this machine, if alive
    (from its pid file, checked against the process's command line)."""
    pidfile = var_dir / "sip" / "kamailio.pid"
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if KAMAILIO_BINARY in cmdline and str(pidfile) in cmdline else None


def attach_running_edge(ctx: Context) -> LocalEdge | None:
    """Let this process (a CLI command) speak to the Kamailio its node runs: possible on the
    same machine, as the same user, with the same var dir (the JSON-RPC FIFO is there)."""
    directory = ctx.settings.var_dir / "sip"
    if (
        running_edge_pid(ctx.settings.var_dir) is None
        or not (directory / "kamailio_rpc.fifo").exists()
    ):
        return None
    local = LocalEdge(password="", directory=directory)  # it answers no control requests
    ctx.services.get(LOCAL_EDGE).value = local
    return local


# --- ending a dialog the edge answered itself ----------------------------------------------


def answered_dialog(form: dict[str, str]) -> dict[str, str]:
    """What the edge reported of a dialog it answered (route[ANSWER]): enough to send a BYE."""
    contact = form.get("contact", "")
    start, end = contact.find("<"), contact.find(">")
    uri = contact[start + 1 : end] if 0 <= start < end else contact.split(";")[0].strip()
    return {
        "local_tag": form.get("ltt", "")[:100],
        "remote_target": uri[:300],
        "remote_from": form.get("from", "")[:400],  # the caller's From, with its tag
        "local_uri": form.get("to_uri", "")[:300],
        "source": form.get("src", "")[:60],
        "proto": form.get("proto", "udp")[:10].lower(),
    }


async def hang_up(ctx: Context, sip_call_id: str) -> bool:
    """End a call the edge answered itself: the edge sends the caller a BYE (tm.t_uac_start);
    its end is recorded here at once (the edge reports no end of a dialog it ends itself)."""
    dialog = await records.dialog_of(ctx, sip_call_id)
    if dialog is None and sip_call_id.startswith(DIAL_OUT_PREFIX):  # still ringing: CANCEL
        answer = await rpc(ctx, "tm.cancel", sip_call_id, "1")
        return isinstance(answer, dict) and "error" not in answer
    if dialog is None or not dialog.get("remote_target"):
        return False
    headers = (
        f"From: <{dialog['local_uri']}>;tag={dialog['local_tag']}\r\n"
        f"To: {dialog['remote_from']}\r\n"
        f"Call-ID: {sip_call_id}\r\n"
        "CSeq: 101 BYE\r\n"
        "Max-Forwards: 70\r\n"
    )
    nexthop = f"sip:{dialog['source']};transport={dialog['proto']}" if dialog["source"] else "."
    answer = await rpc(
        ctx, "tm.t_uac_start", "BYE", dialog["remote_target"], nexthop, ".", headers, ""
    )
    if not isinstance(answer, dict) or "error" in answer:
        log.warning("sip_edge_hang_up_failed", answer=str(answer)[:200])
        return False
    await records.do_ended(ctx, sip_call_id, ctx.clock.now())
    return True


DIAL_OUT_PREFIX = "yt-out-"  # the Call-ID of a call Yuntong makes through the edge


@dataclass(frozen=True)
class DialOut:
    """An INVITE Yuntong sends through its edge (a conference calling someone in)."""

    call_id: str
    ruri: str  # where it goes: a registered phone's contact, or a number at a trunk
    nexthop: str  # "." or sip:host:port;transport=…
    from_uri: str
    from_tag: str
    to_uri: str
    sdp: str
    caller_user_id: int | None = None  # who pays (the conference's organiser)
    callee_user_id: int | None = None
    calling_number: str | None = None
    called_number: str | None = None


def _edge_contact(ctx: Context) -> str:
    host = ctx.settings.sip_host
    return f"<sip:yuntong-media@{host}:{ctx.settings.sip_port}>"


async def dial_out(ctx: Context, call: DialOut) -> bool:
    """Send the INVITE (tm.t_uac_start); its final answer comes back as the event ``dialled``
    (``event_route[tm:local-response]``), and the callee's BYE as ``ended``."""
    row = SipCall(
        id=new_id(),
        sip_call_id=call.call_id,
        source="conference",
        direction="outbound" if call.nexthop != "." else "internal",
        state="routing",
        created_at=ctx.clock.now(),
        node_id=ctx.node_id,
        caller_user_id=call.caller_user_id,
        callee_user_id=call.callee_user_id,
        calling_number=call.calling_number,
        called_number=call.called_number,
        route={
            "dial_out": {
                "from_uri": call.from_uri,
                "from_tag": call.from_tag,
                "to_uri": call.to_uri,
            }
        },
    )
    await records.insert(ctx, row)
    headers = (
        f'From: "Conference" <{call.from_uri}>;tag={call.from_tag}\r\n'
        f"To: <{call.to_uri}>\r\n"
        f"Call-ID: {call.call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: {_edge_contact(ctx)}\r\n"
        "Max-Forwards: 70\r\n"
        "Content-Type: application/sdp\r\n"
    )
    answer = await rpc(
        ctx, "tm.t_uac_start", "INVITE", call.ruri, call.nexthop, ".", headers, call.sdp
    )
    if not isinstance(answer, dict) or "error" in answer:
        log.warning("sip_edge_dial_out_failed", answer=str(answer)[:200])
        return False
    return True


def dialled_dialog(placed: dict[str, str], form: dict[str, str]) -> dict[str, str]:
    """The dialog of an answered dial-out, as :func:`hang_up` and :func:`acknowledge` use it."""
    contact = form.get("contact", "")
    start, end = contact.find("<"), contact.find(">")
    uri = contact[start + 1 : end] if 0 <= start < end else contact.split(";")[0].strip()
    return {
        "local_tag": placed.get("from_tag", ""),
        "local_uri": placed.get("from_uri", ""),
        "remote_target": uri[:300] or placed.get("to_uri", ""),
        "remote_from": f"<{placed.get('to_uri', '')}>;tag={form.get('to_tag', '')[:100]}",
        "source": form.get("src", "")[:60],
        "proto": form.get("proto", "udp")[:10].lower(),
    }


async def acknowledge(ctx: Context, call_id: str, dialog: dict[str, str]) -> None:
    """The ACK of a 2xx the callee of a dial-out answered (end to end, no transaction)."""
    headers = (
        f"From: <{dialog['local_uri']}>;tag={dialog['local_tag']}\r\n"
        f"To: {dialog['remote_from']}\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 ACK\r\n"
        "Max-Forwards: 70\r\n"
    )
    nexthop = f"sip:{dialog['source']};transport={dialog['proto']}" if dialog["source"] else "."
    await rpc(ctx, "tm.t_uac_start", "ACK", dialog["remote_target"], nexthop, ".", headers, "")
