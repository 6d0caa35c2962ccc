"""What the SIP edge (Kamailio) asks this service: a credential's HA1, where a call goes, and
that a call was answered or ended. Basic auth, user ``edge``, with the password the local
Kamailio was started with; not part of the public API."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from yuntong.core.basic_auth import check_basic
from yuntong.core.context import Context, get_context
from yuntong.core.logging import get_logger
from yuntong.sip import credentials, edge, records, routing
from yuntong.sip.edge import CONTROL_PATH, EDGE_USER, local_edge

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)
MAX_FORM = 32_768  # the route question carries the SDP offer


def _authorised(ctx: Context, request: Request) -> bool:
    local = local_edge(ctx)
    passwords = [local.password] if local is not None else []
    return check_basic(request.headers.get("authorization"), EDGE_USER, passwords)


async def _form(request: Request) -> dict[str, str] | None:
    body = await request.body()
    if len(body) > MAX_FORM:
        return None
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[0] for key, values in parsed.items() if values}


def _hex_text(value: str) -> str:
    """A message body Kamailio sent hex-encoded (``s.escape.param`` gives up on line ends)."""
    try:
        return bytes.fromhex(value).decode("utf-8", errors="replace")
    except ValueError:
        return ""


def _denied() -> Response:
    return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="edge"'})


@router.get(CONTROL_PATH + "/ha1")
async def ha1(request: Request, user: str = "") -> Response:
    ctx = get_context(request)
    if not _authorised(ctx, request):
        return _denied()
    found = await credentials.ha1_of(ctx, user[:40]) if user.isdigit() else None
    if found is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse({"ha1": found})


@router.post(CONTROL_PATH + "/route")
async def route(request: Request) -> Response:
    ctx = get_context(request)
    if not _authorised(ctx, request):
        return _denied()
    form = await _form(request)
    if form is None or not form.get("call_id"):
        return JSONResponse(routing.reject(400, "Bad Request"))
    answer: dict[str, Any]
    if form.get("stage") == "failure":
        try:
            code = int(form.get("code", "500"))
        except ValueError:
            code = 500
        answer = await routing.decide_failure(
            ctx,
            form["call_id"],
            code,
            unregistered=form.get("unregistered") == "1",
            pdd_ms=records.delay_ms(form.get("t0"), form.get("first")),
        )
    else:
        ask = routing.Ask(
            sip_call_id=form["call_id"],
            source=form.get("source", ""),
            caller=form.get("caller", ""),
            to=unquote(form.get("to", "")),  # the Request-URI user, %-escaped (#31#)
            from_display=form.get("from_display", ""),
            privacy=form.get("privacy", ""),
            pai=form.get("pai", ""),
            sdp=_hex_text(form.get("sdp", "")),
            arrived_at=records.edge_time(form.get("t0")),
        )
        answer = await routing.decide_new(ctx, ask)
    log.info("sip_route", action=answer["action"], code=answer.get("code"))
    return JSONResponse(answer)


LIMIT_GRACE_S = 5.0  # after a prepaid call's limit, the edge's report of its end is awaited


def _close_after(ctx: Context, sip_call_id: str, delay_s: float) -> None:
    """Close a prepaid call at its limit if the edge has not reported its end by then. The
    edge's timer runs on the wall clock, so this one does too (node-local: a node that stops
    meanwhile leaves it to recovery)."""

    async def close() -> None:
        call = await records.do_end_at_limit(ctx, sip_call_id)
        if call is not None:
            log.warning("sip_end_not_reported", call_id=call.id)
            await routing.do_finish(ctx, call)

    def fire() -> None:
        task = asyncio.get_running_loop().create_task(close())
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)

    asyncio.get_running_loop().call_later(delay_s, fire)


_PENDING: set[asyncio.Task[None]] = set()


@router.post(CONTROL_PATH + "/event")
async def event(request: Request) -> Response:
    ctx = get_context(request)
    if not _authorised(ctx, request):
        return _denied()
    form = await _form(request)
    if form is None or not form.get("call_id"):
        return Response(status_code=400)
    at = records.edge_time(form.get("at"))
    if form.get("event") == "answered":
        first = form.get("first") or form.get("at")
        call = await records.do_answered(
            ctx, form["call_id"], at, records.delay_ms(form.get("t0"), first)
        )
        if call is not None and form.get("ltt"):  # a call the edge answered itself
            await records.do_keep_dialog(ctx, call, edge.answered_dialog(form))
        limit = call.route.get("max_s") if call is not None and call.route else None
        if call is not None and limit is not None:
            _close_after(ctx, call.sip_call_id, float(limit) + LIMIT_GRACE_S)
    elif form.get("event") == "ended":
        answered = records.edge_time(form.get("answered"))
        call = await records.do_ended(ctx, form["call_id"], at, answered)
        if call is not None:
            await routing.do_finish(ctx, call)
        answering = ctx.services.get(routing.ANSWERING).value
        if answering is not None:  # a call the edge answered itself (conference dial-in)
            await answering.ended(ctx, form["call_id"])
    elif form.get("event") == "dialled":
        await _dialled(ctx, form, at)
    return Response(status_code=204)


async def _dialled(ctx: Context, form: dict[str, str], at: datetime | None) -> None:
    """The final answer to a call Yuntong made through the edge (a conference's dial-out)."""
    call_id = form["call_id"]
    text = form.get("code", "")
    code = int(text) if text.isdigit() else 500
    if 200 <= code < 300:
        call = await records.do_answered(ctx, call_id, at, None)
        placed = (call.route or {}).get("dial_out") if call is not None else None
        if call is not None and isinstance(placed, dict):
            dialog = edge.dialled_dialog(placed, form)
            await records.do_keep_dialog(ctx, call, dialog)
            await edge.acknowledge(ctx, call_id, dialog)
        else:  # a retransmitted 200 OK: our ACK was lost, send it again
            kept = await records.dialog_of(ctx, call_id)
            if kept is not None:
                await edge.acknowledge(ctx, call_id, kept)
            return
    else:
        outcome = routing.failure_of(code, unregistered=False)[0]
        await records.do_dial_failed(ctx, call_id, at, code, outcome)
    answering = ctx.services.get(routing.ANSWERING).value
    if answering is not None:
        await answering.dialled(ctx, call_id, code, _hex_text(form.get("sdp", "")))
