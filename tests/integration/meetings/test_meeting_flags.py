"""The meeting socket tells each participant what it may do (``can_*`` flags on its own
entry, and on every other participant's entry as sent to it); what a flag offers the room
accepts, what it withholds the room refuses. On a real Janus."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.janus import needs_janus
from tests.support.meetings import api, create_meeting, participant
from tests.support.server import ServerProcess
from yuntong.client.meeting import MeetingClient, MeetingError

pytestmark = needs_janus

ROOM_FLAGS = ("can_control", "can_record", "can_share_screen", "can_chat", "can_end_for_all")
TARGET_FLAGS = ("can_mute", "can_remove", "can_make_cohost", "can_make_participant")


def seen(viewer: MeetingClient, target: MeetingClient) -> dict[str, Any]:
    """The newest entry of ``target`` that ``viewer`` received."""
    entry: dict[str, Any] = {}
    room = viewer.room
    for p in [*room.get("participants", []), room["me"]]:
        if p["id"] == target.participant_id:
            entry = p
    for event in viewer.events:
        person = event.data.get("participant") if event.type == "meeting.participant" else None
        if person and person["id"] == target.participant_id:
            entry = person
    return entry


async def refused(client: MeetingClient, type_: str, data: dict[str, Any]) -> str:
    with pytest.raises(MeetingError) as caught:
        await client.request(type_, data)
    return caught.value.code


async def test_flags_say_what_the_room_accepts(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host, allow_recording=False)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, token=member) as bob,
        participant(meeting_server, meeting, name="Carol") as carol,
    ):
        await alice.wait_until(lambda: seen(alice, carol), 10)
        await bob.wait_until(lambda: seen(bob, carol), 10)
        me = alice.room["me"]
        assert {f: me[f] for f in ROOM_FLAGS} == {
            "can_control": True,
            "can_record": False,  # recording is off for this meeting
            "can_share_screen": True,
            "can_chat": True,
            "can_end_for_all": True,
        }
        assert not any(me[f] for f in TARGET_FLAGS)  # nothing to do to oneself
        assert {f: bob.room["me"][f] for f in ROOM_FLAGS} == {
            "can_control": False,
            "can_record": False,
            "can_share_screen": True,
            "can_chat": True,
            "can_end_for_all": False,
        }
        # the host sees what it may do to each; a participant may do nothing to anyone
        to_bob, to_carol = seen(alice, bob), seen(alice, carol)
        assert {f: to_bob[f] for f in TARGET_FLAGS} == {
            "can_mute": True,
            "can_remove": True,
            "can_make_cohost": True,
            "can_make_participant": False,
        }
        assert to_carol["can_mute"] and to_carol["can_make_cohost"]
        assert not any(seen(bob, alice)[f] for f in TARGET_FLAGS)
        assert not any(seen(bob, carol)[f] for f in TARGET_FLAGS)

        # withheld: refused
        assert await refused(alice, "meeting.record", {"on": True}) == "meeting_feature_off"
        assert await refused(bob, "meeting.end", {}) == "meeting_forbidden"
        assert await refused(bob, "meeting.lock", {"locked": True}) == "meeting_forbidden"
        carol_id = {"participant_id": carol.participant_id}
        assert await refused(bob, "meeting.mute", {**carol_id, "audio": True}) == (
            "meeting_forbidden"
        )
        # offered: accepted; bob is a cohost now and is told what that lets him do
        await alice.request(
            "meeting.role", {"participant_id": bob.participant_id, "role": "cohost"}
        )
        await bob.wait_until(lambda: seen(bob, bob).get("can_control") is True, 10)
        await bob.wait_until(lambda: seen(bob, carol).get("can_mute") is True, 10)
        await alice.wait_until(lambda: seen(alice, bob).get("can_make_participant") is True, 10)
        assert seen(alice, bob)["can_make_cohost"] is False
        assert seen(bob, bob)["can_end_for_all"] is False  # only the host ends for all
        to_host, to_carol = seen(bob, alice), seen(bob, carol)
        assert {f: to_host[f] for f in TARGET_FLAGS} == dict.fromkeys(TARGET_FLAGS, False)
        assert {f: to_carol[f] for f in TARGET_FLAGS} == {
            "can_mute": True,
            "can_remove": True,
            "can_make_cohost": False,  # only the host changes roles
            "can_make_participant": False,
        }
        await bob.request("meeting.mute", {**carol_id, "audio": True})
        host_id = {"participant_id": alice.participant_id}
        assert await refused(bob, "meeting.mute", {**host_id, "audio": True}) == (
            "meeting_forbidden"
        )
        assert await refused(bob, "meeting.remove", host_id) == "meeting_forbidden"
        assert await refused(bob, "meeting.role", {**carol_id, "role": "cohost"}) == (
            "meeting_forbidden"
        )
        mine = {"participant_id": bob.participant_id, "audio": True}
        assert await refused(bob, "meeting.mute", mine) == "meeting_forbidden"

        # the host turns chat off: each is told whether it may still chat
        resp = await api(
            meeting_server,
            host,
            "PATCH",
            f"/api/v1/meetings/{meeting['id']}",
            json={"settings": {"allow_chat": False, "allow_recording": False}},
        )
        assert resp.status_code == 200, resp.text
        told = await carol.wait_event("meeting.settings")
        assert told.data["can"]["can_chat"] is False
        assert (await bob.wait_event("meeting.settings")).data["can"]["can_chat"] is True
        assert await refused(carol, "meeting.chat", {"text": "hi"}) == "meeting_feature_off"
        await bob.request("meeting.chat", {"text": "hosts may"})

        await alice.request("meeting.remove", carol_id)  # offered to alice: accepted
        await carol.wait_event("meeting.removed")
