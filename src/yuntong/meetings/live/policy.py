"""The host policy of a live meeting: who may control whom, end it, record, share, chat.

Each rule is one ``check_*`` function that raises the error the client is told; the room
calls it before acting, and :func:`room_flags` / :func:`target_flags` call the same checks to
tell each participant what it may do now (the ``can_*`` flags of ``meeting.join``'s ``room``
and of every participant entry sent to it). The page shows those flags; it never derives
them itself, so what it offers and what the room accepts cannot disagree.
``actor`` None is the host acting through the REST API (its access checked by
:func:`yuntong.meetings.control.check_may_control`); the REST participant list carries the
same per-target flags, computed with ``viewer`` None
(:func:`yuntong.meetings.control.participants`).
"""

from __future__ import annotations

from typing import Any

from yuntong.core.errors import YuntongError, allows
from yuntong.meetings.live.participant import Participant, ParticipantState
from yuntong.meetings.models import Role
from yuntong.meetings.service import MeetingSettings, check_may_end

# role changes a host may make: target's role -> the roles it may be given
ROLE_CHANGES: dict[Role, frozenset[Role]] = {
    Role.PARTICIPANT: frozenset({Role.COHOST}),
    Role.GUEST: frozenset({Role.COHOST, Role.PARTICIPANT}),  # a guest stays a guest
    Role.COHOST: frozenset({Role.PARTICIPANT}),
}


def check_host_controls(actor: Participant | None) -> None:
    """``actor`` may use the host controls (lobby, mute all, lock): a joined host or cohost."""
    if actor is not None and (not actor.is_host or actor.state != ParticipantState.JOINED):
        raise YuntongError("meeting_forbidden")


def check_may_control(actor: Participant | None, target: Participant) -> None:
    """``actor`` may mute or remove ``target``: never the host, never oneself."""
    check_host_controls(actor)
    if target.role == Role.HOST or target is actor:
        raise YuntongError("meeting_forbidden")


def check_may_mute(actor: Participant | None, target: Participant) -> None:
    """``actor`` may mute ``target``: one it may control, who is in the room (not waiting)."""
    check_may_control(actor, target)
    target.check_joined()


def check_role_changer(actor: Participant | None) -> None:
    """Only the host (not a cohost) changes roles."""
    if actor is not None and actor.role != Role.HOST:
        raise YuntongError("meeting_forbidden")


def check_may_set_role(actor: Participant | None, target: Participant, role: Role) -> None:
    """The host makes a participant or guest cohost, or a cohost a participant again."""
    check_role_changer(actor)
    if role not in ROLE_CHANGES.get(target.role, frozenset()):
        raise YuntongError("meeting_forbidden")


def check_may_record(settings: MeetingSettings, actor: Participant | None) -> None:
    check_host_controls(actor)
    if not settings.allow_recording:
        raise YuntongError("meeting_feature_off", feature="recording")


def check_may_share_screen(settings: MeetingSettings, p: Participant) -> None:
    if not settings.allow_screen_share and not p.is_host:
        raise YuntongError("meeting_feature_off", feature="screen_share")


def check_may_chat(settings: MeetingSettings, p: Participant) -> None:
    """Hosts may always chat."""
    if not settings.allow_chat and not p.is_host:
        raise YuntongError("meeting_feature_off", feature="chat")


def check_may_end_for_all(p: Participant) -> None:
    check_may_end(p.role, joined=p.state == ParticipantState.JOINED)


def room_flags(settings: MeetingSettings, me: Participant) -> dict[str, bool]:
    """What ``me`` may do in the room now (sent on its own entry)."""
    return {
        "can_control": allows(lambda: check_host_controls(me)),
        "can_record": allows(lambda: check_may_record(settings, me)),
        "can_share_screen": allows(lambda: check_may_share_screen(settings, me)),
        "can_chat": allows(lambda: check_may_chat(settings, me)),
        "can_end_for_all": allows(lambda: check_may_end_for_all(me)),
    }


def target_flags(viewer: Participant | None, target: Participant) -> dict[str, bool]:
    """What ``viewer`` may do to ``target`` now (sent on ``target``'s entry to ``viewer``;
    ``viewer`` None: a host through the REST API)."""
    return {
        "can_mute": allows(lambda: check_may_mute(viewer, target)),
        "can_remove": allows(lambda: check_may_control(viewer, target)),
        "can_make_cohost": allows(lambda: check_may_set_role(viewer, target, Role.COHOST)),
        # a guest may be "made participant" (the room accepts it and changes nothing): not offered
        "can_make_participant": target.role != Role.GUEST
        and allows(lambda: check_may_set_role(viewer, target, Role.PARTICIPANT)),
    }


def entry(settings: MeetingSettings, q: Participant, viewer: Participant) -> dict[str, Any]:
    """``q``'s participant entry as ``viewer`` sees it: what ``viewer`` may do to ``q`` (and,
    on its own entry, in the room)."""
    flags = target_flags(viewer, q)
    if q is viewer:
        flags |= room_flags(settings, viewer)
    return {**q.public(), **flags}
