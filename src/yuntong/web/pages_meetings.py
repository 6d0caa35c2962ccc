"""The meeting pages: the list, the schedule form, a meeting's details and the join link.

Only ``/m/<number>`` (the join link) is open to visitors without an account; everything a
page does goes through the meetings REST API and the meeting WebSocket.
"""

from __future__ import annotations

import re
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from yuntong.core.context import get_context
from yuntong.meetings.service import MeetingSettings, link_has_ended
from yuntong.web.pages import member_page, render_page, require_member, signed_in

# the schedule form's choices: (value, label key)
RECURRENCES: Final = (
    ("", "ui.meetings.recurrence.none"),
    ("daily", "ui.meetings.recurrence.daily"),
    ("weekly", "ui.meetings.recurrence.weekly"),
    ("weekdays", "ui.meetings.recurrence.weekdays"),
)
SETTING_CHOICES: Final = (
    ("passcode", "ui.meetings.setting.passcode"),
    ("waiting_room", "ui.meetings.setting.waiting_room"),
    ("mute_on_entry", "ui.meetings.setting.mute_on_entry"),
    ("ask_to_unmute", "ui.meetings.setting.ask_to_unmute"),
    ("allow_guests", "ui.meetings.setting.allow_guests"),
    ("allow_screen_share", "ui.meetings.setting.allow_screen_share"),
    ("allow_chat", "ui.meetings.setting.allow_chat"),
    ("allow_recording", "ui.meetings.setting.allow_recording"),
)

router = APIRouter(include_in_schema=False)

MEETING_ID: Final = re.compile(r"[0-9a-f]{32}")
MEETING_NUMBER: Final = re.compile(r"\d{9}")
PASSCODE: Final = re.compile(r"\d{4,10}")


def _bounds(name: str) -> tuple[int, int]:
    """A MeetingSettings field's lowest and highest value, as the model declares them."""
    metadata = MeetingSettings.model_fields[name].metadata
    low = next(m.ge for m in metadata if hasattr(m, "ge"))
    high = next(m.le for m in metadata if hasattr(m, "le"))
    return int(low), int(high)


def _settings_form() -> dict[str, Any]:
    """The settings form's defaults and limits: the API's (MeetingSettings), not copies."""
    defaults = MeetingSettings()
    people = _bounds("max_participants")
    empty_s = _bounds("auto_end_after_empty_s")
    return {
        "defaults": defaults.model_dump(),
        "max_participants": (*people, defaults.max_participants),
        # whole minutes in the form
        "auto_end_min": (
            max(1, -(-empty_s[0] // 60)),
            empty_s[1] // 60,
            defaults.auto_end_after_empty_s // 60,
        ),
    }


FORM: Final[dict[str, Any]] = {
    "recurrences": RECURRENCES,
    "setting_choices": SETTING_CHOICES,
    "settings_form": _settings_form(),
}


@router.get("/meetings")
async def meetings_page(request: Request) -> Response:
    return await _meeting_page(request, "meetings.html", "ui.meetings.title")


@router.get("/meetings/new")
async def meeting_new_page(request: Request) -> Response:
    return await _meeting_page(request, "meeting_new.html", "ui.meetings.schedule_title", **FORM)


@router.get("/meetings/{meeting_id}/edit")
async def meeting_edit_page(request: Request, meeting_id: str) -> Response:
    return await _meeting_page(
        request, "meeting_new.html", "ui.meetings.edit_title", meeting_id, **FORM
    )


@router.get("/meetings/{meeting_id}")
async def meeting_detail_page(request: Request, meeting_id: str) -> Response:
    return await _meeting_page(
        request, "meeting_detail.html", "ui.meetings.detail_title", meeting_id
    )


async def _meeting_page(
    request: Request,
    template: str,
    title_key: str,
    meeting_id: str | None = None,
    **extra: Any,
) -> Response:
    """A members' page of the meetings section; the script loads the meeting, if any."""
    member = await require_member(request)
    if isinstance(member, Response):
        return member
    if meeting_id is not None and MEETING_ID.fullmatch(meeting_id) is None:
        return RedirectResponse("/meetings", status_code=303)
    return member_page(
        request, member, template, title_key, active="meetings", meeting_id=meeting_id, **extra
    )


@router.get("/m/{number}")
async def meeting_join_page(request: Request, number: str) -> Response:
    """Pre-join, lobby and room: members join as themselves, visitors as guests."""
    if MEETING_NUMBER.fullmatch(number) is None:
        number = ""  # the page says there is no such meeting
    passcode = request.query_params.get("pwd", "")
    if PASSCODE.fullmatch(passcode) is None:
        passcode = ""
    client = request.client.host if request.client else None
    ended = bool(number) and await link_has_ended(get_context(request), number, client)
    principal = await signed_in(request)
    if principal is None:
        return render_page(
            request,
            "meeting_join.html",
            title_key="ui.meeting.title",
            number=number,
            passcode=passcode,
            ended=ended,
        )
    return member_page(
        request,
        principal,
        "meeting_join.html",
        "ui.meeting.title",
        active="meetings",
        number=number,
        passcode=passcode,
        ended=ended,
    )
