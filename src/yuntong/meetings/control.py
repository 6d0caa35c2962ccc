"""What needs both a meeting's record and its live room: who may control the meeting, the
host controls of the REST API, ending it (live or not), changing its settings (the live room
follows at once), and what a viewer may do with a meeting now (:func:`meeting_flags`, from the
checks the actions run). Routes call these; they decide nothing themselves.

The live room runs on the node holding the meeting's owner lease (:mod:`.live.lease`), and a
REST request reaches any node: a control whose room runs on another node is forwarded to it
(:func:`on_owner`, over :mod:`yuntong.cluster.forward`), which runs the same function on its
room and answers, or refuses with the error the user would get there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from yuntong.accounts.auth import Principal
from yuntong.cluster import forward
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError, allows
from yuntong.meetings import service, store, tickets
from yuntong.meetings.live import lease, policy
from yuntong.meetings.live.participant import Participant, ParticipantState
from yuntong.meetings.live.room import Room
from yuntong.meetings.live.rooms import live_room
from yuntong.meetings.models import Meeting, MeetingStatus, Role


async def participants_now(ctx: Context, meetings: Sequence[Meeting]) -> dict[str, int]:
    """Per meeting (by id), how many are in its live room: counted by the room on the node
    running it, from the open stays on the others (0: not live)."""
    counts: dict[str, int] = {}
    elsewhere = []
    for m in meetings:
        room = live_room(ctx, m.id)
        counts[m.id] = len(room.joined()) if room else 0
        if room is None and m.status == MeetingStatus.LIVE:
            elsewhere.append(m.id)
    if elsewhere:
        async with ctx.db.session() as s:
            counts.update(await store.open_stays_by_meeting(s, elsewhere))
    return counts


def _flags(
    ctx: Context, meeting: Meeting, user_id: int, now: datetime, removed: bool
) -> dict[str, bool]:
    room = live_room(ctx, meeting.id)
    hosting = meeting.host_id == user_id
    return {
        "can_join": allows(
            lambda: tickets.check_may_join(
                meeting, now, is_host=hosting, removed=removed, room=room
            )
        ),
        "can_edit": allows(lambda: service.check_may_edit(meeting, user_id)),
        "can_invite": allows(lambda: service.check_may_invite(meeting, user_id)),
        "can_end": allows(lambda: service.check_may_end_meeting(meeting, user_id)),
        "can_see_history": allows(lambda: service.check_hosts(meeting, user_id)),
    }


async def meeting_flags(
    ctx: Context, user: Principal, meetings: Sequence[Meeting]
) -> dict[str, dict[str, bool]]:
    """Per meeting (by id), what ``user`` (its host or an invitee) may do with it now: join
    (a ticket), edit, invite, end (or cancel), see its history — the checks those routes run."""
    async with ctx.db.session() as s:
        removed = await store.removed_from(s, [m.id for m in meetings], user.user_id)
    now = ctx.clock.now()
    return {m.id: _flags(ctx, m, user.user_id, now, m.id in removed) for m in meetings}


async def _controlled(ctx: Context, user: Principal, meeting_id: str) -> tuple[Meeting, Room]:
    meeting = await service.visible_meeting(ctx, user, meeting_id)
    room = live_room(ctx, meeting_id)
    if meeting.host_id != user.user_id and not (
        room is not None and room.may_control(user.user_id)
    ):
        raise YuntongError("meeting_forbidden")
    if room is None:
        raise YuntongError("meeting_not_joined")
    return meeting, room


async def check_may_control(ctx: Context, user: Principal, meeting_id: str) -> Room:
    """The live room of a meeting ``user`` hosts, or co-hosts right now; else
    ``meeting_forbidden`` (or ``meeting_not_joined`` while nobody is in it)."""
    _, room = await _controlled(ctx, user, meeting_id)
    return room


def check_may_set_roles(meeting: Meeting, user: Principal) -> None:
    """Through the API only the meeting's host (not a co-host) changes roles."""
    service.check_hosts(meeting, user.user_id)


def _target_flags(meeting: Meeting, user: Principal, target: Participant) -> dict[str, bool]:
    """What ``user`` may do to ``target`` through the API: the room's policy with actor None
    (the routes act so), role changes only as the meeting's host (:func:`do_set_role`)."""
    flags = policy.target_flags(None, target)
    if not allows(lambda: check_may_set_roles(meeting, user)):
        flags.update(can_make_cohost=False, can_make_participant=False)
    return flags


async def _participants(
    ctx: Context, user: Principal, meeting_id: str, _args: dict[str, Any]
) -> dict[str, Any]:
    meeting, room = await _controlled(ctx, user, meeting_id)
    present = (ParticipantState.WAITING, ParticipantState.JOINED)
    entries = [
        {**p.public(), "state": p.state.value, **_target_flags(meeting, user, p)}
        for p in room.participants.values()
        if p.state in present
    ]
    return {"participants": entries}


async def _end(ctx: Context, user: Principal, meeting_id: str, _args: dict[str, Any]) -> None:
    meeting = await service.visible_meeting(ctx, user, meeting_id)
    service.check_may_end_meeting(meeting, user.user_id)
    room = live_room(ctx, meeting_id)
    if room is not None:
        await room.end("host")
    else:
        await service.do_end_unstarted(ctx, meeting_id)


async def _settings(ctx: Context, user: Principal, meeting_id: str, _args: dict[str, Any]) -> None:
    room = live_room(ctx, meeting_id)
    if room is not None:
        meeting = await service.visible_meeting(ctx, user, meeting_id)
        await room.apply_settings(service.settings_of(meeting))


async def _set_role(ctx: Context, user: Principal, meeting_id: str, args: dict[str, Any]) -> None:
    meeting, room = await _controlled(ctx, user, meeting_id)
    check_may_set_roles(meeting, user)
    await room.set_role(None, str(args["participant_id"]), Role(args["role"]))


async def _admit(ctx: Context, user: Principal, meeting_id: str, args: dict[str, Any]) -> Any:
    room = await check_may_control(ctx, user, meeting_id)
    return {"count": await room.admit(None, args.get("participant_id"))}


async def _deny(ctx: Context, user: Principal, meeting_id: str, args: dict[str, Any]) -> Any:
    room = await check_may_control(ctx, user, meeting_id)
    return {"count": await room.deny(None, args.get("participant_id"))}


async def _mute(ctx: Context, user: Principal, meeting_id: str, args: dict[str, Any]) -> None:
    room = await check_may_control(ctx, user, meeting_id)
    await room.mute(
        None, str(args["participant_id"]), args["audio"], args["video"], args["ask_to_unmute"]
    )


async def _mute_all(ctx: Context, user: Principal, meeting_id: str, args: dict[str, Any]) -> Any:
    room = await check_may_control(ctx, user, meeting_id)
    return {"count": await room.mute_all(None, args["ask_to_unmute"])}


async def _remove(ctx: Context, user: Principal, meeting_id: str, args: dict[str, Any]) -> None:
    room = await check_may_control(ctx, user, meeting_id)
    await room.remove(None, str(args["participant_id"]))


async def _lock(ctx: Context, user: Principal, meeting_id: str, args: dict[str, Any]) -> None:
    room = await check_may_control(ctx, user, meeting_id)
    await room.set_locked(None, bool(args["locked"]))


Control = Callable[[Context, Principal, str, dict[str, Any]], Awaitable[dict[str, Any] | None]]
CONTROLS: dict[str, Control] = {
    "participants": _participants,
    "end": _end,
    "settings": _settings,
    "role": _set_role,
    "admit": _admit,
    "deny": _deny,
    "mute": _mute,
    "mute_all": _mute_all,
    "remove": _remove,
    "lock": _lock,
}
FORWARDED_CONTROL = "meetings.control"


async def on_owner(
    ctx: Context, user: Principal, meeting_id: str, action: str, args: dict[str, Any]
) -> dict[str, Any] | None:
    """Run the control ``action`` where the meeting's room runs: on this node when it runs
    here (or nowhere), else forwarded to the node holding the meeting's lease."""
    owner = await lease.owner(ctx, meeting_id)
    if owner is None or owner == ctx.node_id:
        return await CONTROLS[action](ctx, user, meeting_id, args)
    request = {"user": asdict(user), "meeting_id": meeting_id, "action": action, "args": args}
    return await forward.ask(ctx, owner, FORWARDED_CONTROL, request)


def install(ctx: Context) -> None:
    """Serve the controls other nodes forward to this one (the rooms it runs)."""

    async def run(request: dict[str, Any]) -> dict[str, Any] | None:
        control = CONTROLS.get(str(request.get("action")))
        if control is None:
            raise YuntongError("validation_failed", fields={"action": "invalid"})
        user = Principal(**request["user"])
        return await control(ctx, user, str(request["meeting_id"]), dict(request["args"]))

    forward.serve(ctx, FORWARDED_CONTROL, run)


async def participants(ctx: Context, user: Principal, meeting_id: str) -> list[dict[str, Any]]:
    """Who is in the room and in its lobby, for a host or co-host, each with what the caller
    may do to it through the API now (``can_mute``, ``can_remove``, ``can_make_cohost``,
    ``can_make_participant``)."""
    found = await on_owner(ctx, user, meeting_id, "participants", {})
    return list((found or {}).get("participants", []))


async def do_end_meeting(ctx: Context, user: Principal, meeting_id: str) -> None:
    """The host ends the meeting: its live room for everyone (on whichever node runs it),
    else the meeting (one nobody is in: cancelled)."""
    await on_owner(ctx, user, meeting_id, "end", {})


async def do_update_meeting(
    ctx: Context, user: Principal, meeting_id: str, data: service.MeetingUpdate
) -> Meeting:
    """The host changes the meeting; new settings apply to its live room at once."""
    meeting = await service.do_update(ctx, user, meeting_id, data)
    if data.settings is not None:
        await on_owner(ctx, user, meeting_id, "settings", {})
    return meeting


async def do_set_role(
    ctx: Context, user: Principal, meeting_id: str, participant_id: str, role: Role
) -> None:
    """Only the host (not a co-host) makes someone co-host, or a participant again."""
    await on_owner(ctx, user, meeting_id, "role", {"participant_id": participant_id, "role": role})


async def do_admit(ctx: Context, user: Principal, meeting_id: str, pid: str | None) -> int:
    """A host or co-host lets one waiting participant in (``pid`` None: everyone waiting)."""
    done = await on_owner(ctx, user, meeting_id, "admit", {"participant_id": pid})
    return int((done or {}).get("count", 0))


async def do_deny(ctx: Context, user: Principal, meeting_id: str, pid: str) -> int:
    done = await on_owner(ctx, user, meeting_id, "deny", {"participant_id": pid})
    return int((done or {}).get("count", 0))


async def do_mute(
    ctx: Context,
    user: Principal,
    meeting_id: str,
    pid: str,
    audio: bool | None,
    video: bool | None,
    ask_to_unmute: bool | None,
) -> None:
    args = {"participant_id": pid, "audio": audio, "video": video, "ask_to_unmute": ask_to_unmute}
    await on_owner(ctx, user, meeting_id, "mute", args)


async def do_mute_all(
    ctx: Context, user: Principal, meeting_id: str, ask_to_unmute: bool | None
) -> int:
    done = await on_owner(ctx, user, meeting_id, "mute_all", {"ask_to_unmute": ask_to_unmute})
    return int((done or {}).get("count", 0))


async def do_remove(ctx: Context, user: Principal, meeting_id: str, pid: str) -> None:
    await on_owner(ctx, user, meeting_id, "remove", {"participant_id": pid})


async def do_lock(ctx: Context, user: Principal, meeting_id: str, locked: bool) -> None:
    await on_owner(ctx, user, meeting_id, "lock", {"locked": locked})
