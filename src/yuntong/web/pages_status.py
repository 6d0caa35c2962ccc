"""The status page's pages: the public page (/status, no log-in, rendered whole on the server),
its Atom feed, the subscription's confirm and unsubscribe pages (the one-click POST of RFC 8058
too), and the staff's page (/operator/status), which works through the REST API
(docs/status-page.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from yuntong.accounts.auth import csrf_token_for
from yuntong.accounts.roles import STAFF_ROLES
from yuntong.core.context import get_context
from yuntong.core.errors import YuntongError
from yuntong.core.i18n import pick_locale
from yuntong.sla import status, status_feed, subscriptions
from yuntong.web.pages import (
    LOCALE_COOKIE,
    member_page,
    page_locale,
    render_page,
    require_member,
    signed_in,
)

router = APIRouter(include_in_schema=False)


def _page_extra(request: Request, found: status.Summary) -> dict[str, Any]:
    tz = ZoneInfo(get_context(request).settings.business_timezone)
    zh = page_locale(request) == "zh-CN"
    names = {
        v.component.id: v.component.name_zh if zh else v.component.name_en for v in found.components
    }

    def when(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    def affected(ids: list[int] | dict[int, str]) -> str:
        return ", ".join(names.get(int(i), "?") for i in ids)

    return {
        "summary": found,
        "zh": zh,
        "when": when,
        "affected": affected,
        "tz_name": tz.key,
        "worst": status.worst,
    }


@router.get("/status")
async def status_page(request: Request) -> Response:
    ctx = get_context(request)
    found = await status.summary(ctx)
    member = await signed_in(request)  # a member sees the page inside the app's shell
    return render_page(
        request,
        "status.html",
        title_key="status.name",
        principal=member,
        csrf_token="" if member is None else csrf_token_for(ctx, member.session_id),
        active="status",
        **_page_extra(request, found),
    )


@router.get("/status/feed.atom")
async def status_feed_atom(request: Request) -> Response:
    """The Atom feed, in ``?lang=`` or the visitor's language."""
    locale = pick_locale(request.query_params.get("lang") or request.cookies.get(LOCALE_COOKIE))
    body = await status_feed.feed(get_context(request), locale)
    return Response(
        body,
        media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": "public, max-age=60", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/status/confirm")
async def confirm_page(request: Request) -> Response:
    """The confirmation link: a button that confirms (a mail scanner's GET confirms nothing)."""
    return render_page(
        request,
        "status_link.html",
        title_key="ui.status.confirm.title",
        kind="confirm",
        token=request.query_params.get("token", "")[:200],
    )


@router.get("/status/unsubscribe")
async def unsubscribe_page(request: Request) -> Response:
    return render_page(
        request,
        "status_link.html",
        title_key="ui.status.unsubscribe.title",
        kind="unsubscribe",
        token=request.query_params.get("token", "")[:200],
    )


@router.post("/status/unsubscribe")
async def unsubscribe_one_click(request: Request) -> Response:
    """RFC 8058: a mail client's one-click unsubscribe (``List-Unsubscribe-Post``)."""
    try:
        await subscriptions.do_unsubscribe(
            get_context(request), request.query_params.get("token", "")[:200]
        )
    except YuntongError as exc:
        return Response(status_code=exc.status)
    return Response(status_code=200)


@router.get("/operator/status")
async def operator_status_page(request: Request) -> Response:
    member = await require_member(request, roles=STAFF_ROLES)
    if isinstance(member, Response):
        return member
    ctx = get_context(request)
    found = await status.summary(ctx)
    return member_page(
        request,
        member,
        "operator_status.html",
        "ui.status.staff.title",
        states=status.STATES,
        impacts=status.IMPACTS,
        statuses=status.STATUSES,
        subscribers=await subscriptions.count_subscribers(ctx),
        **_page_extra(request, found),
    )
