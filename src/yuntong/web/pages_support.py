"""The customer-service desk's pages: the agent workspace (/support), which works through the
desk's REST API and the agent's /ws, and the widget's script (/support/widget.js), which a
platform's page on another origin loads with one script tag (docs/support.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from yuntong.support.models import Routing
from yuntong.web.pages import member_page, require_member

router = APIRouter(include_in_schema=False)
WIDGET: Final = Path(__file__).resolve().parent / "static" / "js" / "support" / "widget.js"
WIDGET_HEADERS: Final = {
    # a classic script any page may load; it reaches the API only from the inbox's origins
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=300",
}


@router.get("/support")
async def support_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    return member_page(
        request,
        member,
        "support.html",
        "ui.support.title",
        active="support",
        routings=[r.value for r in Routing],
        can_create_inbox=member.role in ("org_admin", "operator_admin"),
    )


@router.get("/support/widget.js")
async def widget_script() -> Response:
    return Response(
        WIDGET.read_bytes(), media_type="text/javascript; charset=utf-8", headers=WIDGET_HEADERS
    )
