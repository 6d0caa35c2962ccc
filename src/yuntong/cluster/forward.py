"""Asking the node that owns something to act on it: a request and its answer over the bus.

Live state has one owner node (a call, a live meeting). Any node accepts a socket or a REST
request; when what it concerns is owned elsewhere, the node *forwards* it: :func:`ask`
publishes a request on the owner's node channel (:func:`~yuntong.core.bus.node_channel`) and
waits for the answer on its own, at most ``forward_timeout_s``. The owner runs the handler
registered for that kind (:func:`serve`) and answers with its result or its
:class:`~yuntong.core.errors.YuntongError`, which :func:`ask` raises again on the asking node,
so a user sees the same error whichever node their socket is on.

Pub/sub is at-most-once: a request or an answer may be lost (Redis restarted, the owner died).
The asking node then raises ``node_unreachable`` with a retry hint, and the user's client
retries; nothing the owner must not lose travels this way (what it changes it writes to the
database first). A request to this node itself runs the handler at once, without the bus, so
the embedded single node never forwards anything.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Histogram

from yuntong.core.bus import node_channel
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger

log = get_logger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]

FORWARDED = Counter(
    "yuntong_forwarded_total",
    "Requests forwarded to an owner node, by kind and result",
    ["kind", "result"],
)
FORWARD_SECONDS = Histogram(
    "yuntong_forward_seconds",
    "Time from forwarding a request to its answer",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


@dataclass
class Forwarding:
    """This node's handlers for forwarded requests and the answers it waits for."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    listening: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


FORWARDING = Piece(
    "cluster.forwarding",
    "node-owned live state",
    lambda ctx: Forwarding(),
    "the handlers of requests other nodes forward to this one, and the answers it awaits",
)


def forwarding_of(ctx: Context) -> Forwarding:
    return ctx.services.get(FORWARDING)


def serve(ctx: Context, kind: str, handler: Handler) -> None:
    """Run ``handler(payload)`` for requests of ``kind`` forwarded to this node."""
    state = forwarding_of(ctx)
    if kind in state.handlers:
        raise ValueError(f"forwarded kind {kind!r} served twice")
    state.handlers[kind] = handler
    _listen(ctx)


def _listen(ctx: Context) -> None:
    state = forwarding_of(ctx)
    if not state.listening:
        state.listening = True
        ctx.bus.subscribe(node_channel(ctx.node_id), lambda m: _on_message(ctx, m))


async def ask(
    ctx: Context,
    node_id: str,
    kind: str,
    payload: dict[str, Any],
    *,
    timeout_s: float | None = None,
) -> dict[str, Any] | None:
    """Have node ``node_id`` run its ``kind`` handler on ``payload``; its answer, or its error
    raised here. ``node_unreachable`` when no answer comes in time."""
    state = forwarding_of(ctx)
    if node_id == ctx.node_id:
        return await _run(state, kind, payload)
    _listen(ctx)
    request_id = secrets.token_hex(8)
    answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    state.waiting[request_id] = answer
    started = asyncio.get_running_loop().time()
    try:
        await ctx.bus.publish(
            node_channel(node_id),
            {
                "forward": "request",
                "id": request_id,
                "kind": kind,
                "from": ctx.node_id,
                "payload": payload,
            },
        )
        async with asyncio.timeout(timeout_s or ctx.settings.forward_timeout_s):
            reply = await answer
    except TimeoutError:
        FORWARDED.labels(kind, "unanswered").inc()
        log.warning("forward_unanswered", kind=kind, node=node_id)
        raise YuntongError("node_unreachable", retry_after=1) from None
    finally:
        state.waiting.pop(request_id, None)
    FORWARD_SECONDS.observe(asyncio.get_running_loop().time() - started)
    error = reply.get("error")
    if error is not None:
        FORWARDED.labels(kind, "error").inc()
        raise YuntongError(str(error["code"]), **dict(error.get("params") or {}))
    FORWARDED.labels(kind, "ok").inc()
    result: dict[str, Any] | None = reply.get("result")
    return result


async def _run(state: Forwarding, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    handler = state.handlers.get(kind)
    if handler is None:
        raise YuntongError("node_unreachable", retry_after=1)
    return await handler(payload)


async def _on_message(ctx: Context, message: dict[str, Any]) -> None:
    state = forwarding_of(ctx)
    if message.get("forward") == "answer":
        waiting = state.waiting.get(str(message.get("id")))
        if waiting is not None and not waiting.done():
            waiting.set_result(message)
        return
    if message.get("forward") != "request":
        return
    # each request in a task of its own: a slow one (a database write) never holds up the
    # node channel, and requests about one object are ordered by the owner's own locks
    task = asyncio.create_task(_answer(ctx, message))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


async def _answer(ctx: Context, message: dict[str, Any]) -> None:
    state = forwarding_of(ctx)
    reply: dict[str, Any] = {"forward": "answer", "id": message.get("id")}
    try:
        reply["result"] = await _run(state, str(message.get("kind")), message.get("payload") or {})
    except YuntongError as exc:
        reply["error"] = {"code": exc.code, "params": _plain(exc.params)}
    except Exception:
        log.exception("forwarded_request_failed", kind=message.get("kind"))
        reply["error"] = {"code": "internal_error", "params": {}}
    await ctx.bus.publish(node_channel(str(message.get("from"))), reply)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
        for k, v in params.items()
    }
