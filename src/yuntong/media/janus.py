"""Async client for the Janus WebSocket API: sessions, plugin handles, transactions, events.

One reader task per connection matches replies to requests by transaction and hands
everything else (media state, plugin events) to the handle it concerns.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger

log = get_logger(__name__)

Json = dict[str, Any]
EventCallback = Callable[["JanusEvent"], None]

SUBPROTOCOL = Subprotocol("janus-protocol")
VIDEOROOM = "janus.plugin.videoroom"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_KEEPALIVE_S = 25.0
# Janus answers "message" with "ack" and later an "event" carrying the plugin's answer,
# unless the plugin answers at once ("success"); both end the transaction.
FINAL_REPLIES = frozenset({"success", "event", "error"})


class JanusError(YuntongError):
    """Janus or one of its plugins refused a request; ``janus_code`` and ``reason`` are theirs."""

    def __init__(self, janus_code: int, reason: str) -> None:
        super().__init__("janus_error", janus_code=janus_code)
        self.janus_code = janus_code
        self.reason = reason

    def __str__(self) -> str:
        return f"Janus error {self.janus_code}: {self.reason}"


class JanusUnavailable(YuntongError):
    """Janus cannot be reached, the connection was lost, or it did not answer in time.

    ``refused``: the node's host refused or reset the connection (nothing listens there, the
    process died), as opposed to a slow or unanswered one.
    """

    def __init__(self, detail: str, *, refused: bool = False) -> None:
        super().__init__("janus_unavailable")
        self.detail = detail
        self.refused = refused

    def __str__(self) -> str:
        return f"Janus unavailable: {self.detail}"


@dataclass(frozen=True)
class JanusEvent:
    """Something Janus said about a handle.

    ``kind`` is the message's ``janus`` field (``event``, ``webrtcup``, ``media``,
    ``slowlink``, ``hangup``, ``detached``, or ``success`` for an immediate plugin answer);
    ``data`` is the plugin's ``plugindata.data`` (empty for core events, whose fields are in
    ``message``); ``jsep`` is the SDP offer or answer, if any.
    """

    kind: str
    data: Json
    jsep: Json | None
    message: Json


def janus_token(
    secret: str, now: datetime, ttl_s: int, plugins: Iterable[str] = (VIDEOROOM,)
) -> str:
    """A token Janus accepts until ``now + ttl_s`` when it runs with ``token_auth_secret``.

    Format: ``<expiry>,janus,<plugin>…:<base64(HMAC-SHA1(secret, <expiry>,janus,<plugin>…))>``;
    attaching to a plugin needs its package name in the list.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    signed = ",".join([str(int(now.timestamp()) + ttl_s), "janus", *plugins])
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha1).digest()
    return f"{signed}:{base64.b64encode(digest).decode()}"


@dataclass
class _Pending:
    future: asyncio.Future[Json]
    until_final: bool  # a plugin message: its "ack" does not end the transaction


class JanusClient:
    """One WebSocket connection to Janus; use :meth:`connect` to make one."""

    def __init__(self, ws: ClientConnection, *, token: str | None, timeout_s: float) -> None:
        self.token = token
        self.timeout_s = timeout_s
        self._ws = ws
        self._pending: dict[str, _Pending] = {}
        self._sessions: dict[int, JanusSession] = {}
        self._closed: str | None = None
        self.closed_event = asyncio.Event()  # set once the connection is gone, for any reason
        self._reader = asyncio.create_task(self._read(), name="janus-reader")

    @classmethod
    async def connect(
        cls, url: str, token: str | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> JanusClient:
        """Open the connection; ``token`` is sent with every request (Janus ``token_auth``)."""
        try:
            ws = await connect(url, subprotocols=[SUBPROTOCOL], open_timeout=timeout_s)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            # refused, or reset during the handshake (websockets wraps that one)
            refused = any(
                isinstance(e, ConnectionRefusedError | ConnectionResetError)
                for e in (exc, exc.__cause__)
            )
            raise JanusUnavailable(f"cannot connect to {url}: {exc}", refused=refused) from exc
        return cls(ws, token=token, timeout_s=timeout_s)

    async def close(self) -> None:
        """Close the connection; Janus then ends its sessions (``reclaim_session_timeout`` 0)."""
        self._closed = self._closed or "the client was closed"
        await self._ws.close()
        await self._reader

    async def create_session(
        self, *, keepalive_s: float | None = DEFAULT_KEEPALIVE_S
    ) -> JanusSession:
        """A new Janus session kept alive every ``keepalive_s`` seconds (``None``: never)."""
        reply = await self.send({"janus": "create"})
        session = JanusSession(self, int(reply["data"]["id"]), keepalive_s)
        self._sessions[session.id] = session
        return session

    async def send(
        self, message: Json, *, until_final: bool = False, timeout_s: float | None = None
    ) -> Json:
        """Send one request and return Janus's reply to it; raise if it is an error."""
        if self._closed is not None:
            raise JanusUnavailable(self._closed)
        transaction = secrets.token_urlsafe(12)
        request = {**message, "transaction": transaction}
        if self.token is not None:
            request["token"] = self.token
        pending = _Pending(asyncio.get_running_loop().create_future(), until_final)
        self._pending[transaction] = pending
        limit = self.timeout_s if timeout_s is None else timeout_s
        try:
            async with asyncio.timeout(limit):
                await self._ws.send(json.dumps(request))
                reply = await pending.future
        except TimeoutError:
            raise JanusUnavailable(f"no answer to {message['janus']} within {limit} s") from None
        except ConnectionClosed as exc:
            raise JanusUnavailable(f"connection to Janus lost ({exc})") from exc
        finally:
            del self._pending[transaction]
        return _checked(reply)

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                self._dispatch(raw)
        except ConnectionClosed as exc:
            self._closed = self._closed or f"connection to Janus lost ({exc})"
        finally:
            self._shut(self._closed or "connection to Janus closed")

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("janus_bad_message", size=len(raw))
            return
        if not isinstance(message, dict):
            return
        pending = self._pending.get(message.get("transaction", ""))
        if pending is not None and (
            message.get("janus") in FINAL_REPLIES or not pending.until_final
        ):
            if not pending.future.done():
                pending.future.set_result(message)
            return
        if pending is not None:  # the "ack" of a plugin message; its answer follows
            return
        session = self._sessions.get(message.get("session_id", 0))
        if session is None:
            log.debug("janus_message_dropped", kind=message.get("janus"))
            return
        session._deliver(message)

    def _shut(self, reason: str) -> None:
        self._closed = reason
        self.closed_event.set()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(JanusUnavailable(reason))
        for session in list(self._sessions.values()):
            session._end()


class JanusSession:
    """A Janus session: the owner of plugin handles, ended by Janus if it hears nothing."""

    def __init__(self, client: JanusClient, session_id: int, keepalive_s: float | None) -> None:
        self.client = client
        self.id = session_id
        self.ended = asyncio.Event()
        self._handles: dict[int, JanusHandle] = {}
        self._keepalive: asyncio.Task[None] | None = None
        if keepalive_s is not None:
            self._keepalive = asyncio.create_task(
                self._keep_alive(keepalive_s), name=f"janus-keepalive-{session_id}"
            )

    async def attach(self, plugin: str, *, on_event: EventCallback | None = None) -> JanusHandle:
        """A handle on ``plugin``; its events go to ``on_event`` if given, else to ``events``."""
        reply = await self.send({"janus": "attach", "plugin": plugin})
        handle = JanusHandle(self, int(reply["data"]["id"]), plugin, on_event)
        self._handles[handle.id] = handle
        return handle

    async def destroy(self) -> None:
        try:
            await self.send({"janus": "destroy"})
        finally:
            self._end()

    async def send(self, message: Json, **options: Any) -> Json:
        return await self.client.send({**message, "session_id": self.id}, **options)

    async def _keep_alive(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.send({"janus": "keepalive"})
            except JanusUnavailable as exc:  # a slow answer; a lost connection ends us anyway
                log.warning("janus_keepalive_failed", session=self.id, error=str(exc))
            except JanusError as exc:  # Janus no longer knows the session
                log.warning("janus_session_lost", session=self.id, error=str(exc))
                self._end()
                return

    def _deliver(self, message: Json) -> None:
        if message.get("janus") == "timeout":
            log.warning("janus_session_timed_out", session=self.id)
            self._end()
            return
        handle = self._handles.get(message.get("sender", 0))
        if handle is None:
            log.debug("janus_event_dropped", session=self.id, kind=message.get("janus"))
            return
        if message.get("janus") == "detached":
            del self._handles[handle.id]
        handle._deliver(_event(message))

    def _end(self) -> None:
        self.ended.set()
        self.client._sessions.pop(self.id, None)
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()


class JanusHandle:
    """A handle attached to one plugin: requests, JSEP exchange, and the plugin's events."""

    def __init__(
        self,
        session: JanusSession,
        handle_id: int,
        plugin: str,
        on_event: EventCallback | None,
    ) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.events: asyncio.Queue[JanusEvent] = asyncio.Queue()
        self._on_event = on_event

    async def request(self, body: Json, *, timeout_s: float | None = None) -> Json:
        """A plugin request answered at once (VideoRoom ``create``, ``list``…); its data."""
        return (await self.message(body, timeout_s=timeout_s)).data

    async def message(
        self, body: Json, jsep: Json | None = None, *, timeout_s: float | None = None
    ) -> JanusEvent:
        """A plugin request answered by an event (``join``, ``configure``…), with its JSEP."""
        message: Json = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        reply = await self.send(message, until_final=True, timeout_s=timeout_s)
        return _event(reply)

    async def trickle(self, candidate: Json | None) -> None:
        """Send one ICE candidate; ``None`` says gathering is complete."""
        await self.send({"janus": "trickle", "candidate": candidate or {"completed": True}})

    async def hangup(self) -> None:
        """Close the handle's PeerConnection, keep the handle."""
        await self.send({"janus": "hangup"})

    async def detach(self) -> None:
        await self.send({"janus": "detach"})
        self.session._handles.pop(self.id, None)

    async def send(self, message: Json, **options: Any) -> Json:
        return await self.session.send({**message, "handle_id": self.id}, **options)

    def _deliver(self, event: JanusEvent) -> None:
        if self._on_event is None:
            self.events.put_nowait(event)
            return
        try:
            self._on_event(event)
        except Exception:  # one faulty callback must not stop the reader every handle needs
            log.exception("janus_event_callback_failed", handle=self.id, kind=event.kind)


def _event(message: Json) -> JanusEvent:
    data = message.get("plugindata", {}).get("data", {})
    return JanusEvent(str(message.get("janus")), data, message.get("jsep"), message)


def _checked(reply: Json) -> Json:
    """``reply``, unless Janus or the plugin reports an error in it."""
    if reply.get("janus") == "error":
        error = reply.get("error", {})
        raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
    data = reply.get("plugindata", {}).get("data", {})
    if "error_code" in data or "error" in data:
        raise JanusError(int(data.get("error_code", 0)), str(data.get("error", "")))
    return reply
