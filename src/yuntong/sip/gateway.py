"""The browsers' WebRTC <-> SIP gateway: a Janus SIP handle per browser device, driven by Yuntong.

A signed-in browser whose user has a number with SIP credentials gets a *line*: a session of
its own on this node's Janus with one ``janus.plugin.sip`` handle, which Yuntong registers
with the SIP edge (Kamailio) as that number, exactly as a desk phone registers. From then on:

- **out**: the browser sends its WebRTC offer (``sip.call``); Yuntong asks the handle to
  ``call`` ``sip:<dialled>@<domain>`` through the edge, which routes it as a call of that
  number (barring, credit, forwarding, records: :mod:`yuntong.sip.routing`);
- **in**: a call to the number is forked by Kamailio to the registered phones *and* the
  browsers' handles together (first answer wins); the handle's ``incomingcall`` reaches the
  browser as ``sip.incoming`` with Janus's WebRTC offer, and ``sip.accept`` answers it.

Why Yuntong drives the handle and not the browser: the digest secret of a number (its HA1,
:mod:`yuntong.sip.credentials`) is what Kamailio checks; handed to JavaScript it would be a
password that never expires. Janus listens on loopback only and Yuntong already relays the
browsers' Janus traffic (meetings), so the ``register`` with ``ha1_secret`` is sent from the
server, the browser only ever sees SDP and call events, and the line dies with its device
(socket closed past its grace period: unregistered, session destroyed). A Kamailio "trusted
source" for Janus with an identity header set by Yuntong was the alternative; it would add a
second way to authenticate to the edge, for every process on the host that can send UDP.

Limits (docs/sip.md): one call per line (Janus answers a second incoming call 486); no
transcoding (the browser offers G.711, PCMU/PCMA, on SIP calls); only the node's own Janus.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import select

from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.media.janus import (
    JanusClient,
    JanusError,
    JanusEvent,
    JanusHandle,
    JanusSession,
    JanusUnavailable,
    janus_token,
)
from yuntong.media.janus_config import sip_local_ip
from yuntong.media.supervisor import LOCAL_JANUS
from yuntong.numbers.models import NumberState, PhoneNumber
from yuntong.realtime.connection import hub_of
from yuntong.sip import credentials
from yuntong.sip.edge import local_edge
from yuntong.sip.models import SipCredential

log = get_logger(__name__)

SIP_PLUGIN = "janus.plugin.sip"
# the token of the gateway's own loopback connection: its sessions' keepalives use it for as
# long as the connection lives (it is renewed whenever a line is opened)
TOKEN_TTL_S = 30 * 24 * 3600
REGISTER_TIMEOUT_S = 10.0
RINGING_EVENTS = frozenset({"ringing", "proceeding", "progress"})


@dataclass
class Line:
    """One browser device's SIP user agent in Janus, registered as one of its user's numbers."""

    user_id: int
    device_id: str
    username: str  # the number in E.164 without "+"
    session: JanusSession | None = None
    handle: JanusHandle | None = None
    registered: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str = ""  # why the registration failed
    call_id: str = ""  # the SIP Call-ID of the call in progress ("" idle)
    incoming: bool = False  # the call in progress rings this browser (not yet answered)

    @property
    def number(self) -> str:
        return "+" + self.username


class SipGateway:
    """The lines of the browsers connected to this node."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.lines: dict[tuple[int, str], Line] = {}
        self._client: JanusClient | None = None
        self._opening: dict[tuple[int, str], asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- Janus ----------------------------------------------------------------------------

    async def _janus(self) -> JanusClient:
        local = self.ctx.services.get(LOCAL_JANUS).value
        if local is None or local_edge(self.ctx) is None:
            raise YuntongError("sip_gateway_unavailable")
        token = janus_token(local.token_secret, datetime.now(UTC), TOKEN_TTL_S, (SIP_PLUGIN,))
        client = self._client
        if client is None or client.closed_event.is_set():
            try:
                client = await JanusClient.connect(local.url, token)
            except JanusUnavailable as exc:
                log.warning("sip_gateway_janus_unavailable", error=str(exc))
                raise YuntongError("sip_gateway_unavailable") from exc
            self._client = client
        client.token = token  # a fresh one for every use: the connection outlives tokens
        return client

    def _proxy(self) -> str:
        settings = self.ctx.settings  # Kamailio listens on sip_host (an address, not a name)
        return f"sip:{sip_local_ip(settings.sip_host)}:{settings.sip_port}"

    # -- lines ----------------------------------------------------------------------------

    async def line(self, user_id: int, device_id: str) -> Line:
        """The device's line, opened and registered if it has none (or lost it)."""
        key = (user_id, device_id)
        lock = self._opening.setdefault(key, asyncio.Lock())
        async with lock:
            found = self.lines.get(key)
            if found is not None and found.session is not None and not found.session.ended.is_set():
                return found
            if found is not None:
                self.lines.pop(key, None)
            line = await self._open(user_id, device_id)
            self.lines[key] = line
            return line

    async def _open(self, user_id: int, device_id: str) -> Line:
        username = await account_of(self.ctx, user_id)
        secret = await credentials.ha1_of(self.ctx, username)
        if secret is None:
            raise YuntongError("sip_gateway_no_account")
        line = Line(user_id, device_id, username)
        client = await self._janus()
        try:
            line.session = await client.create_session()
            line.handle = await line.session.attach(SIP_PLUGIN, on_event=partial(self._heard, line))
            await line.handle.message(
                {
                    "request": "register",
                    "username": f"sip:{username}@{credentials.sip_domain(self.ctx)}",
                    "authuser": username,
                    "ha1_secret": secret,
                    "proxy": self._proxy(),
                    "outbound_proxy": self._proxy(),  # calls too: the domain need not resolve
                }
            )
            async with asyncio.timeout(REGISTER_TIMEOUT_S):
                await line.registered.wait()
        except (JanusError, JanusUnavailable, TimeoutError) as exc:
            log.warning("sip_line_register_failed", user_id=user_id, error=str(exc))
            await self._close(line)
            raise YuntongError("sip_gateway_unavailable") from exc
        if line.failure:
            log.warning("sip_line_register_refused", user_id=user_id, reason=line.failure)
            await self._close(line)
            raise YuntongError("sip_gateway_unavailable")
        log.info("sip_line_registered", user_id=user_id, device_id=device_id)
        return line

    async def close(self, user_id: int, device_id: str) -> None:
        """The device is gone: unregister its line and end its Janus session."""
        line = self.lines.pop((user_id, device_id), None)
        self._opening.pop((user_id, device_id), None)
        if line is not None:
            await self._close(line)

    async def _close(self, line: Line) -> None:
        if line.session is None or line.session.ended.is_set():
            return
        with contextlib.suppress(JanusError, JanusUnavailable):
            if line.handle is not None and line.registered.is_set():
                await line.handle.message({"request": "unregister"}, timeout_s=3)
        with contextlib.suppress(JanusError, JanusUnavailable):
            await line.session.destroy()

    async def stop(self) -> None:
        for user_id, device_id in list(self.lines):
            await self.close(user_id, device_id)
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- calls ----------------------------------------------------------------------------

    async def call(self, line: Line, dialled: str, sdp: str) -> str:
        """Call ``dialled`` (a Yuntong number or a public one) with the browser's offer."""
        if line.call_id:
            raise YuntongError("sip_line_busy")
        assert line.handle is not None
        uri = f"sip:{dialled}@{credentials.sip_domain(self.ctx)}"
        # the SIP Call-ID is ours: Janus's events about the call may come before its reply
        line.call_id, line.incoming = f"yt-{secrets.token_hex(12)}", False
        try:
            await line.handle.message(
                {"request": "call", "uri": uri, "call_id": line.call_id},
                {"type": "offer", "sdp": sdp},
            )
        except (JanusError, JanusUnavailable) as exc:
            line.call_id = ""
            log.warning("sip_line_call_refused", user_id=line.user_id, error=str(exc))
            if isinstance(exc, JanusUnavailable):
                raise YuntongError("sip_gateway_unavailable") from exc
            raise YuntongError("sip_call_refused") from exc
        return line.call_id

    async def accept(self, line: Line, call_id: str, sdp: str) -> None:
        self._check_call(line, call_id)
        assert line.handle is not None
        try:
            await line.handle.message({"request": "accept"}, {"type": "answer", "sdp": sdp})
        except JanusError as exc:
            raise YuntongError("sip_call_not_found") from exc
        line.incoming = False

    async def hangup(self, line: Line, call_id: str) -> None:
        """Hang up the call in progress, or decline it if it still rings this browser."""
        self._check_call(line, call_id)
        assert line.handle is not None
        body = {"request": "decline", "code": 486} if line.incoming else {"request": "hangup"}
        with contextlib.suppress(JanusError):
            await line.handle.message(body)
        line.call_id, line.incoming = "", False

    @staticmethod
    def _check_call(line: Line, call_id: str) -> None:
        if not line.call_id or call_id != line.call_id:
            raise YuntongError("sip_call_not_found")

    # -- what Janus says --------------------------------------------------------------------

    def _heard(self, line: Line, event: JanusEvent) -> None:
        result = event.data.get("result") or {}
        kind = str(result.get("event", "")) if event.kind == "event" else event.kind
        if kind == "registered":
            line.registered.set()
        elif kind == "registration_failed":
            line.failure = f"{result.get('code')} {result.get('reason')}"
            if line.registered.is_set():  # a refresh refused (the password rotated): drop it
                log.info("sip_line_refresh_refused", user_id=line.user_id, reason=line.failure)
                self._spawn(self._drop(line))
            line.registered.set()
        elif kind in RINGING_EVENTS and line.call_id:
            self._tell(line, "sip.ringing", {"call_id": line.call_id})
        elif kind == "accepted" and line.call_id:
            sdp = (event.jsep or {}).get("sdp", "")
            self._tell(line, "sip.answered", {"call_id": line.call_id, "sdp": sdp})
        elif kind == "incomingcall":
            self._incoming(line, event, result)
        elif kind == "hangup" and line.call_id:
            call_id, line.call_id, line.incoming = line.call_id, "", False
            log.info("sip_line_call_ended", code=result.get("code"), reason=result.get("reason"))
            self._tell(
                line,
                "sip.ended",
                {"call_id": call_id, "code": result.get("code"), "reason": result.get("reason")},
            )

    def _incoming(self, line: Line, event: JanusEvent, result: dict[str, Any]) -> None:
        sdp = (event.jsep or {}).get("sdp", "")
        if line.call_id or not sdp:  # Janus refuses a second call itself; no offer: refuse
            return
        line.call_id = str(event.data.get("call_id") or "incoming")
        line.incoming = True
        caller = _user_of(str(result.get("username", "")))
        self._tell(
            line,
            "sip.incoming",
            {
                "call_id": line.call_id,
                "from": caller,
                "display": str(result.get("displayname") or "").strip('"'),
                "to": line.number,
                "sdp": sdp,
            },
        )

    def _tell(self, line: Line, type_: str, data: dict[str, Any]) -> None:
        hub = hub_of(self.ctx)
        self._spawn(hub.send(line.user_id, type_, data, device=line.device_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop(self, line: Line) -> None:
        """Forget a line whose registration lapsed; the next ``sip.online`` opens a new one."""
        key = (line.user_id, line.device_id)
        if self.lines.get(key) is line:
            del self.lines[key]
        await self._close(line)


def _user_of(uri: str) -> str:
    """The user part of a SIP URI (``sip:+8613…@host`` -> ``+8613…``); ``anonymous`` kept."""
    rest = uri.strip("<>").removeprefix("sip:").removeprefix("sips:")
    user = rest.split("@", 1)[0]
    if user.isdigit():
        return "+" + user
    return user


async def account_of(ctx: Context, user_id: int) -> str:
    """The SIP username of the user's first number with SIP credentials (assigned to them)."""
    query = (
        select(SipCredential.username)
        .join(PhoneNumber, PhoneNumber.id == SipCredential.number_id)
        .where(
            SipCredential.user_id == user_id,
            PhoneNumber.user_id == user_id,
            PhoneNumber.state == NumberState.ASSIGNED,
        )
        .order_by(PhoneNumber.e164)
        .limit(1)
    )
    async with ctx.db.connection() as conn:
        username = (await conn.execute(query)).scalar_one_or_none()
    if username is None:
        raise YuntongError("sip_gateway_no_account")
    return str(username)


GATEWAY = Piece(
    "sip.gateway",
    "node-owned live state",
    SipGateway,
    "the Janus SIP lines (registered user agents) of the browsers connected to this node",
)


def gateway_of(ctx: Context) -> SipGateway:
    return ctx.services.get(GATEWAY)


def install(ctx: Context) -> None:
    """A device gone from this node takes its line with it."""

    async def gone(user_id: int, device_id: str) -> None:
        await gateway_of(ctx).close(user_id, device_id)

    hub_of(ctx).on_device_gone.append(gone)
