"""create_app(settings): wires every part of Yuntong together, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from yuntong import __version__
from yuntong.accounts import api as accounts_api
from yuntong.backup import api as backup_api
from yuntong.billing import worker as billing_worker
from yuntong.billing.api import disputes as api_disputes
from yuntong.billing.api import routes as billing_api
from yuntong.billing.worker import WORKER
from yuntong.calls import api as calls_api
from yuntong.calls import engine as calls_engine
from yuntong.calls import recovery as calls_recovery
from yuntong.calls import ws as calls_ws
from yuntong.cluster import nodes, recovery
from yuntong.conferences import api as conferences_api
from yuntong.conferences import bridge as conference_bridges
from yuntong.conferences import control as conference_control
from yuntong.config import Settings, load_settings
from yuntong.contacts import api as contacts_api
from yuntong.contacts import service as contacts_service
from yuntong.core import changes
from yuntong.core.clock import Clock
from yuntong.core.context import close_context
from yuntong.core.errors import YuntongError
from yuntong.core.http_errors import ErrorResponses
from yuntong.core.http_head import HeadAsGet
from yuntong.core.i18n import MESSAGES, request_locale
from yuntong.core.logging import configure_logging, get_logger
from yuntong.media import api as media_api
from yuntong.media.pool import POOL, JanusPool, pool_nodes
from yuntong.media.supervisor import start_media_children
from yuntong.meetings import api as meetings_api
from yuntong.meetings import control as meetings_control
from yuntong.meetings import janus_events, recordings
from yuntong.meetings import ws as meetings_ws
from yuntong.meetings.live import rooms as meeting_rooms
from yuntong.numbers import api as numbers_api
from yuntong.ops import api as ops_api
from yuntong.ops import gcwatch
from yuntong.presence import api as presence_api
from yuntong.presence import boundaries as dnd_boundaries
from yuntong.presence import service as presence
from yuntong.presence import ws as presence_ws
from yuntong.realtime import ws as realtime_ws
from yuntong.realtime.connection import forget_dead_devices, hub_of
from yuntong.services import build_context
from yuntong.sip import api as sip_api
from yuntong.sip import control_api as sip_control_api
from yuntong.sip import edge as sip_edge
from yuntong.sip import gateway as sip_gateway
from yuntong.sip import recovery as sip_recovery
from yuntong.sip import ws as sip_ws
from yuntong.sla import api as sla_api
from yuntong.sla import status_api
from yuntong.supplementary import api as supplementary_api
from yuntong.support import api as support_api
from yuntong.support import assignment as support_assignment
from yuntong.support import ws as support_ws
from yuntong.support.cors import WidgetCors
from yuntong.tariffs import api as tariffs_api
from yuntong.terminals import api as terminals_api
from yuntong.web import (
    apidocs,
    pages,
    pages_conferences,
    pages_meetings,
    pages_numbers,
    pages_status,
    pages_support,
    pages_tariffs,
)

log = get_logger(__name__)
# what a node that died left open, closed by the others (cluster/recovery.py)
RECOVERIES = (
    calls_recovery.do_close_interrupted_calls,
    meeting_rooms.close_interrupted,
    forget_dead_devices,
    support_assignment.do_requeue_offline,
    sip_recovery.do_close_interrupted_sip_calls,
)
STATIC = Path(__file__).resolve().parent / "web" / "static"
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}  # routing's own refusals


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = nodes.as_node(settings or load_settings(), "serve")
    configure_logging(settings.log_level, settings.log_json)
    ctx = build_context(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.writer.start()
        await ctx.bus.start()  # several nodes: hear the others from here on
        await nodes.start(ctx, "serve")  # before recovery: it tells this node's rows apart
        # before anything is cached: changes made by other processes are read from here on
        change_feed = await changes.start(ctx)
        hub = hub_of(ctx)
        hub.start()
        await forget_dead_devices(ctx)  # before sockets: this node's previous run's devices
        realtime_ws.watch_account_status(ctx)
        contacts_service.install(ctx)
        presence.install(ctx)
        meetings_control.install(ctx)  # host controls other nodes forward to this one's rooms
        conference_control.install(ctx)  # phones other nodes ask this node's edge to hang up
        janus_events.install(ctx)  # Janus events other nodes received for this one's rooms
        meetings_ws.install(ctx)  # meeting sockets relayed between this node and the owners
        support_assignment.install(ctx)  # an agent gone offline: their conversations re-assigned
        closed = await calls_recovery.do_close_interrupted_calls(ctx)
        if closed:
            log.warning("calls_interrupted_at_startup", count=closed)
        await calls_engine.start_engine(ctx)
        reopened = await meeting_rooms.close_interrupted(ctx)
        if reopened:
            log.warning("meetings_interrupted_at_startup", count=reopened)
        sweeper = recovery.start_sweeping(ctx, RECOVERIES)
        children = await start_media_children(ctx)
        await sip_recovery.do_close_interrupted_sip_calls(ctx)  # the old edge's dialogs are gone
        await sip_edge.start_sip_edge(ctx, children)
        sip_gateway.install(ctx)  # the browsers' SIP lines (Janus SIP handles) end with them
        janus_pool = JanusPool(pool_nodes(ctx), settings.janus_health_interval_s)
        await janus_pool.start()
        ctx.services.get(POOL).value = janus_pool
        billing = billing_worker.start(ctx)
        billing_process = await billing_worker.start_process(settings)
        ctx.services.get(WORKER).value = billing_process
        gc_policy = gcwatch.start(settings.gc_freeze_interval_s, settings.gc_sweep_interval_s)
        dnd_windows = dnd_boundaries.start_watching(ctx)  # presence as DND windows start, end
        try:
            yield
        finally:
            await dnd_boundaries.stop_watching(dnd_windows)
            await recovery.stop_sweeping(sweeper)
            await gcwatch.stop(gc_policy)
            await billing_worker.stop(billing)
            if billing_process is not None:
                await billing_process.stop()
            await meeting_rooms.rooms_of(ctx).close_all()
            await recordings.wait_processing(ctx)
            await conference_bridges.close(ctx)
            await janus_pool.stop()
            await sip_gateway.gateway_of(ctx).stop()
            await children.stop()
            await calls_engine.stop_engine(ctx)
            await hub.close()
            await changes.stop(change_feed)
            await ctx.writer.stop()
            await nodes.stop(ctx)
            await ctx.bus.close()
            await close_context(ctx)

    app = FastAPI(
        title="Yuntong 云通",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: yuntong.web.apidocs, from the package (offline)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ctx = ctx
    realtime_ws.install(
        calls_ws.HANDLERS,
        presence_ws.HANDLERS,
        sip_ws.HANDLERS,
        greeters={**presence_ws.GREETERS, **calls_ws.GREETERS},
    )
    contacts_service.show_presence_with(ctx, presence.statuses_of)
    _install_error_handlers(app)
    app.add_middleware(ErrorResponses)
    app.add_middleware(HeadAsGet)
    app.add_middleware(WidgetCors)
    for router in (
        ops_api.router,
        accounts_api.router,
        contacts_api.router,
        calls_api.router,
        media_api.router,
        meetings_api.router,
        meetings_ws.router,
        janus_events.router,
        sip_control_api.router,
        sip_api.router,
        billing_api.router,
        api_disputes.router,
        terminals_api.router,
        sla_api.router,
        realtime_ws.router,
        pages.router,
        pages_meetings.router,
        numbers_api.router,
        pages_numbers.router,
        sla_api.completion_router,
        supplementary_api.router,
        presence_api.router,
        backup_api.router,
        apidocs.router,
        support_api.router,
        support_ws.router,
        pages_support.router,
        status_api.router,
        pages_status.router,
        tariffs_api.router,
        pages_tariffs.router,
        conferences_api.router,
        pages_conferences.router,
    ):
        app.include_router(router)
    apidocs.install(app)  # the OpenAPI document's errors, security and examples
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(YuntongError)
    async def _yuntong_error(request: Request, exc: YuntongError) -> JSONResponse:
        body = {"error": exc.to_dict(request_locale(request))}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """An address no route serves, or a method it does not take: a page in the visitor's
        language on the web app's addresses, the JSON error envelope under ``/api/``."""
        code = HTTP_CODES.get(exc.status_code)
        if code is None:
            return await http_exception_handler(request, exc)
        if not request.url.path.startswith(("/api/", "/ws")):
            return pages.error_page(request, exc.status_code)
        error = YuntongError(code)
        body = {"error": error.to_dict(request_locale(request))}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            fields[".".join(loc) or "body"] = _field_code(err)
        error = YuntongError("validation_failed", fields=fields)
        return JSONResponse({"error": error.to_dict(request_locale(request))}, status_code=422)


def _field_code(err: Any) -> str:
    kind = str(err.get("type", ""))
    if f"field.{kind}" in MESSAGES:
        return kind
    if kind == "missing":
        return "required"
    if kind.endswith("too_long"):
        return "too_long"
    ctx = err.get("ctx") or {}
    code = ctx.get("code") if isinstance(ctx, dict) else None
    return str(code) if code else "invalid"
