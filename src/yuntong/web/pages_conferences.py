"""The conference-call pages: the organiser's list with the form that opens one, and a
conference's page (join from the browser, the organiser's controls). Everything the pages do
goes through the conferences REST API (docs/conferences.md). They sit in the meetings part of
the menu (reached from /meetings): one more menu link would not fit a 1280 px screen."""

from __future__ import annotations

import re
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from yuntong.web.pages import member_page, require_member

router = APIRouter(include_in_schema=False)
CONFERENCE_ID: Final = re.compile(r"[0-9a-f]{32}")


@router.get("/conferences")
async def conferences_page(request: Request) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    return member_page(
        request, member, "conferences.html", "ui.conferences.title", active="meetings"
    )


@router.get("/conferences/{conference_id}")
async def conference_page(request: Request, conference_id: str) -> Response:
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    if CONFERENCE_ID.fullmatch(conference_id) is None:
        return RedirectResponse("/conferences", status_code=303)
    return member_page(
        request,
        member,
        "conference.html",
        "ui.conferences.room_title",
        active="meetings",
        conference_id=conference_id,
    )
