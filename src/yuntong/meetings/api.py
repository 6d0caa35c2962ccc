"""REST routes for meetings: everything a host can do, for an organisation's own site too."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from yuntong.accounts.auth import Principal, check_csrf, optional_user, require_user
from yuntong.core.api_types import DbId
from yuntong.core.context import Context, get_context
from yuntong.core.errors import YuntongError
from yuntong.core.spreadsheet import safe_cell
from yuntong.meetings import control, recordings, service, store, tickets
from yuntong.meetings.models import Meeting, MeetingRecording, Role

router = APIRouter(prefix="/api/v1", tags=["meetings"])
Ctx = Annotated[Context, Depends(get_context)]
User = Annotated[Principal, Depends(require_user)]


class MeetingOut(BaseModel):
    id: str
    number: str
    passcode: str | None
    title: str
    kind: str
    status: str
    host_id: int
    is_host: bool
    start_at: datetime
    duration_min: int
    time_zone: str
    recurrence: str | None
    recurrence_count: int | None
    settings: service.MeetingSettings
    join_url: str
    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    participants_now: int
    # what the viewer may do with the meeting now (the checks the routes run; the page shows
    # these and derives nothing): join it, edit it, invite, end it (live) or cancel it (not
    # live yet), see its attendance, chat and recordings; is_host only chooses labels
    can_join: bool
    can_edit: bool
    can_invite: bool
    can_end: bool
    can_see_history: bool


def meeting_out(
    ctx: Context, meeting: Meeting, user: Principal, flags: dict[str, bool], present: int
) -> dict[str, Any]:
    is_host = meeting.host_id == user.user_id
    return {
        **flags,
        "id": meeting.id,
        "number": meeting.number,
        "passcode": meeting.passcode if is_host else None,
        "title": meeting.title,
        "kind": meeting.kind,
        "status": meeting.status,
        "host_id": meeting.host_id,
        "is_host": is_host,
        "start_at": meeting.start_at,
        "duration_min": meeting.duration_min,
        "time_zone": meeting.time_zone,
        "recurrence": meeting.recurrence,
        "recurrence_count": meeting.recurrence_count,
        "settings": service.settings_of(meeting),
        "join_url": service.join_url(ctx, meeting, with_passcode=is_host),
        "started_at": meeting.started_at,
        "ended_at": meeting.ended_at,
        "end_reason": meeting.end_reason,
        "participants_now": present,
    }


async def _one_out(ctx: Context, meeting: Meeting, user: Principal) -> dict[str, Any]:
    flags = await control.meeting_flags(ctx, user, [meeting])
    present = await control.participants_now(ctx, [meeting])
    return meeting_out(ctx, meeting, user, flags[meeting.id], present[meeting.id])


@router.post("/meetings", response_model=MeetingOut, status_code=201)
async def create(ctx: Ctx, user: User, data: service.MeetingInput) -> dict[str, Any]:
    meeting = await service.do_create(ctx, user, data)
    return await _one_out(ctx, meeting, user)


@router.get("/meetings", response_model=list[MeetingOut])
async def list_meetings(
    ctx: Ctx, user: User, scope: Literal["upcoming", "past"] = "upcoming"
) -> list[dict[str, Any]]:
    meetings = await service.list_meetings(ctx, user, past=scope == "past")
    flags = await control.meeting_flags(ctx, user, meetings)
    present = await control.participants_now(ctx, meetings)
    return [meeting_out(ctx, m, user, flags[m.id], present[m.id]) for m in meetings]


@router.get("/meetings/{meeting_id}", response_model=MeetingOut)
async def get(ctx: Ctx, user: User, meeting_id: str) -> dict[str, Any]:
    return await _one_out(ctx, await service.visible_meeting(ctx, user, meeting_id), user)


@router.patch("/meetings/{meeting_id}", response_model=MeetingOut)
async def patch(
    ctx: Ctx, user: User, meeting_id: str, data: service.MeetingUpdate
) -> dict[str, Any]:
    meeting = await control.do_update_meeting(ctx, user, meeting_id, data)
    return await _one_out(ctx, meeting, user)


@router.post("/meetings/{meeting_id}/end", status_code=204)
async def end(ctx: Ctx, user: User, meeting_id: str) -> None:
    await control.do_end_meeting(ctx, user, meeting_id)


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[DbId] = Field(default_factory=list, max_length=200)
    emails: list[str] = Field(default_factory=list, max_length=200)


@router.post("/meetings/{meeting_id}/invitations")
async def invite(ctx: Ctx, user: User, meeting_id: str, data: InviteIn) -> dict[str, int]:
    meeting = await service.visible_meeting(ctx, user, meeting_id)
    return await service.do_invite(ctx, user, meeting, data.user_ids, data.emails)


class ParticipantOut(BaseModel):
    id: str
    name: str
    role: str
    guest: bool
    user_id: int | None
    audio_muted: bool
    video_muted: bool
    hand: bool
    quality: str
    joined_at: str | None
    state: str
    # what the caller may do to this participant through the API now (meetings/live/policy.py)
    can_mute: bool
    can_remove: bool
    can_make_cohost: bool
    can_make_participant: bool


@router.get("/meetings/{meeting_id}/participants", response_model=list[ParticipantOut])
async def participants(ctx: Ctx, user: User, meeting_id: str) -> list[dict[str, Any]]:
    return await control.participants(ctx, user, meeting_id)


class MuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audio: bool | None = True
    video: bool | None = None
    ask_to_unmute: bool | None = None


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["cohost", "participant"]


class LockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locked: bool = True


@router.post("/meetings/{meeting_id}/participants/{pid}/admit", status_code=204)
async def admit(ctx: Ctx, user: User, meeting_id: str, pid: str) -> None:
    await control.do_admit(ctx, user, meeting_id, pid)


@router.post("/meetings/{meeting_id}/participants/{pid}/deny", status_code=204)
async def deny(ctx: Ctx, user: User, meeting_id: str, pid: str) -> None:
    await control.do_deny(ctx, user, meeting_id, pid)


@router.post("/meetings/{meeting_id}/admit-all")
async def admit_all(ctx: Ctx, user: User, meeting_id: str) -> dict[str, int]:
    return {"admitted": await control.do_admit(ctx, user, meeting_id, None)}


@router.post("/meetings/{meeting_id}/participants/{pid}/mute", status_code=204)
async def mute(ctx: Ctx, user: User, meeting_id: str, pid: str, data: MuteIn) -> None:
    await control.do_mute(ctx, user, meeting_id, pid, data.audio, data.video, data.ask_to_unmute)


@router.post("/meetings/{meeting_id}/mute-all")
async def mute_all(ctx: Ctx, user: User, meeting_id: str, data: MuteIn) -> dict[str, int]:
    return {"muted": await control.do_mute_all(ctx, user, meeting_id, data.ask_to_unmute)}


@router.post("/meetings/{meeting_id}/participants/{pid}/remove", status_code=204)
async def remove(ctx: Ctx, user: User, meeting_id: str, pid: str) -> None:
    await control.do_remove(ctx, user, meeting_id, pid)


@router.post("/meetings/{meeting_id}/participants/{pid}/role", status_code=204)
async def role(ctx: Ctx, user: User, meeting_id: str, pid: str, data: RoleIn) -> None:
    await control.do_set_role(ctx, user, meeting_id, pid, Role(data.role))


@router.post("/meetings/{meeting_id}/lock", status_code=204)
async def lock(ctx: Ctx, user: User, meeting_id: str, data: LockIn) -> None:
    await control.do_lock(ctx, user, meeting_id, data.locked)


class AttendanceOut(BaseModel):
    participant_id: str
    name: str
    role: str
    user_id: int | None
    guest: bool
    joined_at: datetime | None
    left_at: datetime | None
    seconds: int  # billed as a usage record of this participant_id
    minutes: float
    media: str
    leave_reason: str | None
    loss_pct: float | None
    jitter_ms: float | None


@router.get("/meetings/{meeting_id}/attendance", response_model=list[AttendanceOut])
async def attendance(ctx: Ctx, user: User, meeting_id: str) -> list[dict[str, Any]]:
    await service.hosted_meeting(ctx, user, meeting_id)
    async with ctx.db.session() as s:
        rows = await store.attendance(s, meeting_id)
    return [
        {
            "participant_id": r.id,
            "name": r.name,
            "role": r.role,
            "user_id": r.user_id,
            "guest": r.user_id is None,
            "joined_at": r.joined_at,
            "left_at": r.left_at,
            "seconds": r.seconds,
            "minutes": round(r.seconds / 60, 2),
            "media": r.media,
            "leave_reason": r.leave_reason,
            "loss_pct": r.loss_pct,
            "jitter_ms": r.jitter_ms,
        }
        for r in rows
        if r.joined_at is not None
    ]


@router.get("/meetings/{meeting_id}/chat", response_model=None)
async def chat_export(
    ctx: Ctx, user: User, meeting_id: str, format: Literal["json", "csv"] = "json"
) -> Response | list[dict[str, Any]]:
    await service.hosted_meeting(ctx, user, meeting_id)
    async with ctx.db.session() as s:
        rows = await store.chat(s, meeting_id)
    items = [
        {
            "at": r.at.isoformat(),
            "from": r.sender_name,
            "from_id": r.sender_id,
            "to": r.recipient_id,
            "text": r.text,
        }
        for r in rows
    ]
    if format == "json":
        return items
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["at", "from", "from_id", "to", "text"])
    writer.writeheader()
    for item in items:  # names and texts are typed by participants
        writer.writerow({k: safe_cell(v) if isinstance(v, str) else v for k, v in item.items()})
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="chat-{meeting_id}.csv"'},
    )


class RecordingOut(BaseModel):
    id: str
    status: str
    started_at: datetime
    stopped_at: datetime | None
    files: list[dict[str, Any]]
    error: str | None


@router.get("/meetings/{meeting_id}/recordings", response_model=list[RecordingOut])
async def list_recordings(ctx: Ctx, user: User, meeting_id: str) -> list[dict[str, Any]]:
    await service.hosted_meeting(ctx, user, meeting_id)
    async with ctx.db.session() as s:
        rows = await store.recordings(s, meeting_id)
    return [
        {
            "id": r.id,
            "status": r.status,
            "started_at": r.started_at,
            "stopped_at": r.stopped_at,
            "files": r.files,
            "error": r.error,
        }
        for r in rows
    ]


@router.get("/meetings/{meeting_id}/recordings/{recording_id}/files/{name}")
async def recording_file(
    ctx: Ctx, user: User, meeting_id: str, recording_id: str, name: str
) -> FileResponse:
    await service.hosted_meeting(ctx, user, meeting_id)
    async with ctx.db.session() as s:
        row = await s.get(MeetingRecording, recording_id)
    if row is None or row.meeting_id != meeting_id:
        raise YuntongError("not_found")
    path = recordings.file_path(row, name)
    return FileResponse(path, media_type="video/webm", filename=name)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passcode: str | None = Field(None, max_length=16)
    display_name: str | None = Field(None, max_length=64)
    guest_key: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class TicketOut(BaseModel):
    ticket: str
    participant_id: str
    role: str
    meeting: dict[str, Any]
    ws_path: str


@router.post("/meetings/by-number/{number}/tickets", response_model=TicketOut)
async def ticket(
    ctx: Ctx,
    request: Request,
    number: str,
    data: TicketIn,
) -> dict[str, Any]:
    """A ticket for the meeting socket: as the signed-in user, or as a guest with a name."""
    user = await optional_user(request)
    if user is not None:
        check_csrf(ctx, request, user)
    if not number.isdigit() or len(number) > 12:
        raise YuntongError("meeting_not_found")
    text, meeting, issued = await tickets.do_issue_ticket(
        ctx,
        user,
        number,
        data.passcode,
        data.display_name,
        data.guest_key,
        client=request.client.host if request.client else None,
    )
    return {
        "ticket": text,
        "participant_id": issued.participant_id,
        "role": issued.role.value,
        "meeting": {"id": meeting.id, "number": meeting.number, "title": meeting.title},
        "ws_path": "/ws/meeting",
    }
