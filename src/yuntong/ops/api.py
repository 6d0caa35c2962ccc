"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from yuntong import __version__
from yuntong.billing.worker import WORKER
from yuntong.cluster import nodes
from yuntong.core import dbhealth
from yuntong.core.context import Context, get_context
from yuntong.core.workdays import WorkCalendar
from yuntong.media.pool import POOL, media_check
from yuntong.media.supervisor import CHILDREN
from yuntong.realtime.connection import hub_of

router = APIRouter(tags=["ops"])
Ctx = Annotated[Context, Depends(get_context)]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(ctx: Ctx) -> JSONResponse:
    """Readiness: the database answers, the realtime hub runs and, when this node runs its own
    Janus, that Janus answers; media children, the billing worker, Janus nodes and Redis (when
    configured: a node without Redis still serves what it can) reported."""
    checks: dict[str, Any] = {"database": await dbhealth.check(ctx.db)}  # or "unavailable: why"
    checks["realtime"] = "ok" if hub_of(ctx).running else "starting"
    if ctx.redis is not None:  # reported, never what makes the node unready (operations.md)
        checks["redis"] = await ctx.bus.status()
    children = ctx.services.get(CHILDREN).value
    if children is not None:
        checks["media"] = children.status()
    checks["janus"] = media_check(ctx)  # "ok", "unhealthy" or "not_required" (runs none)
    billing_worker = ctx.services.get(WORKER).value
    if billing_worker is not None:  # reported, never what makes the node unready
        checks["billing_worker"] = billing_worker.state
    pool = ctx.services.get(POOL).value
    if pool is not None and pool.nodes:
        checks["janus_nodes"] = pool.status()
    checks["nodes"] = await nodes.peers(ctx)  # this node's id and its live peers; reported only
    ready = (
        checks["database"] == "ok" and checks["realtime"] == "ok" and checks["janus"] != "unhealthy"
    )
    # warnings never make the node unready: a holiday schedule missing or provisional for this
    # year, or for next year from 60 days before it (due dates would count weekends only)
    today = ctx.clock.now().astimezone(ZoneInfo(ctx.settings.business_timezone)).date()
    warnings = WorkCalendar.from_settings(ctx.settings).warnings(today)
    checks["holidays"] = "warning" if warnings else "ok"
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks, "warnings": warnings},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics of this process, in the text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
