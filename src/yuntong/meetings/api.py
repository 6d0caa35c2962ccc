"""REST routes for meetings: everything a host can do, for an organisation's own site too."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
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
MeetingId = Annotated[str, Path(description="The meeting's id (MeetingOut.id)")]
Pid = Annotated[str, Path(description="The participant's id (ParticipantOut.id)")]


class MeetingOut(BaseModel):
    """A meeting as the viewer (its host or an invitee) sees it."""

    id: str = Field(description="The meeting's id")
    number: str = Field(description="The meeting number people join with (digits)")
    passcode: str | None = Field(description="The passcode (only for the host; null: none)")
    title: str = Field(description="The meeting's title")
    kind: str = Field(description="instant or scheduled")
    status: str = Field(description="scheduled, live or ended")
    host_id: int = Field(description="The host's user id")
    is_host: bool = Field(description="Whether the viewer is the host")
    start_at: datetime = Field(description="When it starts (or started, for an instant one)")
    duration_min: int = Field(description="Planned length, minutes")
    time_zone: str = Field(description="IANA time zone of the start time")
    recurrence: str | None = Field(description="daily, weekly or weekdays; null: once")
    recurrence_count: int | None = Field(description="Occurrences of a repeating meeting")
    settings: service.MeetingSettings = Field(description="What the host decided")
    join_url: str = Field(description="The link to join (with the passcode for the host)")
    started_at: datetime | None = Field(description="When the room opened (null: not yet)")
    ended_at: datetime | None = Field(description="When it ended (null: not yet)")
    end_reason: str | None = Field(description="Why it ended (e.g. cancelled, empty)")
    participants_now: int = Field(description="People in the room now")
    # what the viewer may do with the meeting now (the checks the routes run; the page shows
    # these and derives nothing): join it, edit it, invite, end it (live) or cancel it (not
    # live yet), see its attendance, chat and recordings; is_host only chooses labels
    can_join: bool = Field(description="A join ticket would be issued to the viewer now")
    can_edit: bool = Field(description="The viewer may change it (PATCH)")
    can_invite: bool = Field(description="The viewer may invite people")
    can_end: bool = Field(description="The viewer may end it (live) or cancel it (not yet live)")
    can_see_history: bool = Field(
        description="The viewer may see its attendance, chat export and recordings"
    )


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
    """Create a meeting hosted by the user: instant (starts now) or scheduled, maybe
    repeating; a passcode is generated unless given or ``no_passcode``."""
    meeting = await service.do_create(ctx, user, data)
    return await _one_out(ctx, meeting, user)


@router.get("/meetings", response_model=list[MeetingOut])
async def list_meetings(
    ctx: Ctx,
    user: User,
    scope: Annotated[
        Literal["upcoming", "past"],
        Query(description="upcoming: not ended yet; past: ended"),
    ] = "upcoming",
) -> list[dict[str, Any]]:
    """The meetings the user hosts or was invited to, with what the user may do with each."""
    meetings = await service.list_meetings(ctx, user, past=scope == "past")
    flags = await control.meeting_flags(ctx, user, meetings)
    present = await control.participants_now(ctx, meetings)
    return [meeting_out(ctx, m, user, flags[m.id], present[m.id]) for m in meetings]


@router.get("/meetings/{meeting_id}", response_model=MeetingOut)
async def get(ctx: Ctx, user: User, meeting_id: MeetingId) -> dict[str, Any]:
    """One meeting the user hosts or was invited to."""
    return await _one_out(ctx, await service.visible_meeting(ctx, user, meeting_id), user)


@router.patch("/meetings/{meeting_id}", response_model=MeetingOut)
async def patch(
    ctx: Ctx, user: User, meeting_id: MeetingId, data: service.MeetingUpdate
) -> dict[str, Any]:
    """The host changes the title, start, length, time zone or settings (not once ended)."""
    meeting = await control.do_update_meeting(ctx, user, meeting_id, data)
    return await _one_out(ctx, meeting, user)


@router.post("/meetings/{meeting_id}/end", status_code=204)
async def end(ctx: Ctx, user: User, meeting_id: MeetingId) -> None:
    """The host ends a live meeting for everyone, or cancels one nobody is in yet (a repeating
    one with all its later occurrences)."""
    await control.do_end_meeting(ctx, user, meeting_id)


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[DbId] = Field(
        default_factory=list, max_length=200, description="Users to invite (their user ids)"
    )
    emails: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="E-mail addresses to send the invitation to (with a calendar entry)",
    )


@router.post("/meetings/{meeting_id}/invitations")
async def invite(ctx: Ctx, user: User, meeting_id: MeetingId, data: InviteIn) -> dict[str, int]:
    """The host invites users (they see the meeting in their list) and e-mail addresses (each
    gets an e-mail with the calendar entry); inviting again updates the entry."""
    meeting = await service.visible_meeting(ctx, user, meeting_id)
    return await service.do_invite(ctx, user, meeting, data.user_ids, data.emails)


class ParticipantOut(BaseModel):
    """Someone in the meeting's room or waiting in its lobby."""

    id: str = Field(description="The participant's id")
    name: str = Field(description="The name shown in the meeting")
    role: str = Field(description="host, cohost or participant")
    guest: bool = Field(description="Joined without an account")
    user_id: int | None = Field(description="Their user id (null: a guest)")
    audio_muted: bool = Field(description="Microphone muted")
    video_muted: bool = Field(description="Camera off")
    hand: bool = Field(description="Hand raised")
    quality: str = Field(description="Network quality: good, fair, poor or unknown")
    joined_at: str | None = Field(description="When they entered the room (ISO 8601)")
    state: str = Field(description="joined (in the room) or waiting (in the lobby)")
    # what the caller may do to this participant through the API now (meetings/live/policy.py)
    can_mute: bool = Field(description="The caller may mute them now")
    can_remove: bool = Field(description="The caller may remove them now")
    can_make_cohost: bool = Field(description="The caller may make them a co-host now")
    can_make_participant: bool = Field(
        description="The caller may make them a plain participant now"
    )


@router.get("/meetings/{meeting_id}/participants", response_model=list[ParticipantOut])
async def participants(ctx: Ctx, user: User, meeting_id: MeetingId) -> list[dict[str, Any]]:
    """Host and co-hosts: who is in the room and in its lobby, with what the caller may do to
    each."""
    return await control.participants(ctx, user, meeting_id)


class MuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audio: bool | None = Field(True, description="Mute the microphone (null: leave as is)")
    video: bool | None = Field(None, description="Turn the camera off (null: leave as is)")
    ask_to_unmute: bool | None = Field(
        None, description="They must raise a hand to be unmuted (null: the meeting's setting)"
    )


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["cohost", "participant"] = Field(description="The participant's new role")


class LockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locked: bool = Field(True, description="Lock (nobody new may join) or unlock")


class Admitted(BaseModel):
    admitted: int = Field(description="How many waiting participants were admitted")


class Muted(BaseModel):
    muted: int = Field(description="How many participants were muted")


@router.post("/meetings/{meeting_id}/participants/{pid}/admit", status_code=204)
async def admit(ctx: Ctx, user: User, meeting_id: MeetingId, pid: Pid) -> None:
    """Host and co-hosts: let a participant waiting in the lobby into the room."""
    await control.do_admit(ctx, user, meeting_id, pid)


@router.post("/meetings/{meeting_id}/participants/{pid}/deny", status_code=204)
async def deny(ctx: Ctx, user: User, meeting_id: MeetingId, pid: Pid) -> None:
    """Host and co-hosts: turn away a participant waiting in the lobby."""
    await control.do_deny(ctx, user, meeting_id, pid)


@router.post("/meetings/{meeting_id}/admit-all", response_model=Admitted)
async def admit_all(ctx: Ctx, user: User, meeting_id: MeetingId) -> dict[str, int]:
    """Host and co-hosts: let everyone waiting in the lobby into the room."""
    return {"admitted": await control.do_admit(ctx, user, meeting_id, None)}


@router.post("/meetings/{meeting_id}/participants/{pid}/mute", status_code=204)
async def mute(ctx: Ctx, user: User, meeting_id: MeetingId, pid: Pid, data: MuteIn) -> None:
    """Host and co-hosts: mute a participant's microphone and/or camera."""
    await control.do_mute(ctx, user, meeting_id, pid, data.audio, data.video, data.ask_to_unmute)


@router.post("/meetings/{meeting_id}/mute-all", response_model=Muted)
async def mute_all(ctx: Ctx, user: User, meeting_id: MeetingId, data: MuteIn) -> dict[str, int]:
    """Host and co-hosts: mute every other participant's microphone."""
    return {"muted": await control.do_mute_all(ctx, user, meeting_id, data.ask_to_unmute)}


@router.post("/meetings/{meeting_id}/participants/{pid}/remove", status_code=204)
async def remove(ctx: Ctx, user: User, meeting_id: MeetingId, pid: Pid) -> None:
    """Host and co-hosts: remove a participant (they cannot join this meeting again)."""
    await control.do_remove(ctx, user, meeting_id, pid)


@router.post("/meetings/{meeting_id}/participants/{pid}/role", status_code=204)
async def role(ctx: Ctx, user: User, meeting_id: MeetingId, pid: Pid, data: RoleIn) -> None:
    """The host makes a participant a co-host, or a co-host a plain participant."""
    await control.do_set_role(ctx, user, meeting_id, pid, Role(data.role))


@router.post("/meetings/{meeting_id}/lock", status_code=204)
async def lock(ctx: Ctx, user: User, meeting_id: MeetingId, data: LockIn) -> None:
    """Host and co-hosts: lock the meeting (nobody new may join but the host) or unlock it."""
    await control.do_lock(ctx, user, meeting_id, data.locked)


class AttendanceOut(BaseModel):
    """One stay of one participant in the room."""

    participant_id: str = Field(description="The participant's id")
    name: str = Field(description="The name they had in the meeting")
    role: str = Field(description="host, cohost or participant")
    user_id: int | None = Field(description="Their user id (null: a guest)")
    guest: bool = Field(description="Joined without an account")
    joined_at: datetime | None = Field(description="When they entered the room")
    left_at: datetime | None = Field(description="When they left (null: still there)")
    seconds: int = Field(  # billed as a usage record of this participant_id
        description="Seconds in the room (billed as one usage record)"
    )
    minutes: float = Field(description="The same in minutes, to two decimals")
    media: str = Field(description="audio or video: what they sent")
    leave_reason: str | None = Field(description="Why they left (null: still there)")
    loss_pct: float | None = Field(description="Packet loss Janus saw, percent")
    jitter_ms: float | None = Field(description="Jitter Janus saw, milliseconds")


@router.get("/meetings/{meeting_id}/attendance", response_model=list[AttendanceOut])
async def attendance(ctx: Ctx, user: User, meeting_id: MeetingId) -> list[dict[str, Any]]:
    """The host: who attended, when, for how long, with what media and quality."""
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
    ctx: Ctx,
    user: User,
    meeting_id: MeetingId,
    format: Annotated[
        Literal["json", "csv"],
        Query(description="json: a list of {at, from, from_id, to, text}; csv: a spreadsheet"),
    ] = "json",
) -> Response | list[dict[str, Any]]:
    """The host: the meeting's chat, as JSON or as a CSV file (UTF-8 with BOM)."""
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
    """One recording of the meeting."""

    id: str = Field(description="The recording's id")
    status: str = Field(description="recording, processing, ready or failed")
    started_at: datetime = Field(description="When recording started")
    stopped_at: datetime | None = Field(description="When it stopped (null: still recording)")
    files: list[dict[str, Any]] = Field(
        description="The files, one .webm per participant stream: name, publisher, duration_s, "
        "size_bytes, has_audio, has_video"
    )
    error: str | None = Field(description="Why processing failed, if it did")


@router.get("/meetings/{meeting_id}/recordings", response_model=list[RecordingOut])
async def list_recordings(ctx: Ctx, user: User, meeting_id: MeetingId) -> list[dict[str, Any]]:
    """The host: the meeting's recordings and their files."""
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
    ctx: Ctx,
    user: User,
    meeting_id: MeetingId,
    recording_id: Annotated[str, Path(description="The recording's id")],
    name: Annotated[str, Path(description="A file name from the recording's files")],
) -> FileResponse:
    """The host: one recorded file (video/webm)."""
    await service.hosted_meeting(ctx, user, meeting_id)
    async with ctx.db.session() as s:
        row = await s.get(MeetingRecording, recording_id)
    if row is None or row.meeting_id != meeting_id:
        raise YuntongError("not_found")
    path = recordings.file_path(row, name)
    return FileResponse(path, media_type="video/webm", filename=name)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passcode: str | None = Field(
        None, max_length=16, description="The meeting's passcode (not needed by its host)"
    )
    display_name: str | None = Field(
        None, max_length=64, description="A guest's name (signed-in users join as themselves)"
    )
    guest_key: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A per-browser random id of a guest: a guest removed stays removed",
    )


class TicketOut(BaseModel):
    """What opens the meeting socket."""

    ticket: str = Field(description="Valid 10 minutes, for one participant: GET ws_path?ticket=")
    participant_id: str = Field(description="The participant's id in the meeting")
    role: str = Field(description="host, cohost or participant")
    meeting: dict[str, Any] = Field(description="The meeting's id, number and title")
    ws_path: str = Field(description="The socket's path (/ws/meeting)")


@router.post("/meetings/by-number/{number}/tickets", response_model=TicketOut)
async def ticket(
    ctx: Ctx,
    request: Request,
    number: Annotated[str, Path(description="The meeting number (digits)")],
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
