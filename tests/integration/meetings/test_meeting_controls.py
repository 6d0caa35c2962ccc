"""Lobby, passcode, guests, removal, lock, end for all, chat and bad input, on a real Janus."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from tests.support.janus import needs_janus
from tests.support.meetings import api, create_meeting, participant
from tests.support.server import ServerProcess
from yuntong.billing.models import UsageRecord
from yuntong.client.meeting import MeetingClient, MeetingError, get_ticket

pytestmark = needs_janus


async def test_waiting_room_host_admits_one_and_denies_another(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host, waiting_room=True)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, name="Guest 1", join=False) as g1,
        participant(meeting_server, meeting, name="Guest 2", join=False) as g2,
    ):
        assert (await g1.join())["state"] == "waiting"
        assert (await g2.join())["state"] == "waiting"
        lobby = await alice.wait_event("meeting.lobby")
        assert lobby.data["waiting"][0]["name"] == "Guest 1"
        # waiting guests are not in the meeting: no media, no participant list
        with pytest.raises(MeetingError) as early:
            await g1.request("meeting.subscribe", {"feed_id": alice.published_feed})
        assert early.value.code == "meeting_not_joined"

        await alice.request("meeting.admit", {"participant_id": g1.participant_id})
        await g1.join_when_admitted()
        assert g1.state == "joined"
        await g1.wait_until(lambda: g1.frames_from(alice.participant_id) >= 10, 20)

        await alice.request("meeting.deny", {"participant_id": g2.participant_id})
        await g2.wait_event("meeting.denied")
        await g2.wait_until(lambda: g2.signaling.closed, 5)
        people = await api(
            meeting_server, host, "GET", f"/api/v1/meetings/{meeting['id']}/participants"
        )
        assert {p["name"] for p in people.json()} == {
            g1.room["me"]["name"],
            alice.room["me"]["name"],
        }


async def test_tickets_refuse_wrong_passcode_guests_and_unknown_meetings(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host, allow_guests=False)
    with pytest.raises(MeetingError) as unknown:
        await get_ticket(meeting_server.url, "999999999", display_name="X", passcode="1")
    assert unknown.value.code == "meeting_not_found"
    with pytest.raises(MeetingError) as guests:
        await get_ticket(
            meeting_server.url, meeting["number"], display_name="X", passcode=meeting["passcode"]
        )
    assert guests.value.code == "meeting_guests_not_allowed"

    open_meeting = await create_meeting(meeting_server, host)
    wrong = "000000" if open_meeting["passcode"] != "000000" else "111111"
    resp = await api(
        meeting_server,
        None,
        "POST",
        f"/api/v1/meetings/by-number/{open_meeting['number']}/tickets",
        json={"passcode": wrong, "display_name": "X"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert resp.status_code == 403
    assert resp.json()["error"] == {"code": "meeting_passcode_wrong", "message": "会议密码错误"}
    with pytest.raises(MeetingError) as forged:
        client = MeetingClient(meeting_server.url, "bm90LWEtdGlja2V0.sig")
        await client.connect()
    assert forged.value.code == "meeting_ticket_invalid"


async def test_removed_participant_is_kicked_from_janus_and_cannot_rejoin(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, token=member) as bob,
    ):
        await alice.wait_until(lambda: alice.frames_from(bob.participant_id) >= 10, 20)
        await alice.request("meeting.remove", {"participant_id": bob.participant_id})
        await bob.wait_event("meeting.removed")
        await alice.wait_event("meeting.feed_gone")
        left = await alice.wait_event("meeting.left")
        assert left.data == {"participant_id": bob.participant_id, "reason": "removed"}
        with pytest.raises(MeetingError) as again:
            await get_ticket(
                meeting_server.url, meeting["number"], token=member, passcode=meeting["passcode"]
            )
        assert again.value.code == "meeting_removed"


async def test_locked_meeting_refuses_new_joins(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, name="Early", join=False) as early,
    ):
        resp = await api(
            meeting_server,
            host,
            "POST",
            f"/api/v1/meetings/{meeting['id']}/lock",
            json={"locked": True},
        )
        assert resp.status_code == 204
        await alice.wait_event("meeting.state")
        with pytest.raises(MeetingError) as locked:
            await get_ticket(
                meeting_server.url, meeting["number"], token=member, passcode=meeting["passcode"]
            )
        assert locked.value.code == "meeting_locked"
        with pytest.raises(MeetingError) as too_late:  # had a ticket, joins after the lock
            await early.join()
        assert too_late.value.code == "meeting_locked"


async def test_full_meeting_refuses_a_join_until_someone_leaves(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host, max_participants=2)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, name="Third", join=False) as third,
    ):
        async with participant(meeting_server, meeting, name="Second"):
            with pytest.raises(MeetingError) as full:
                await third.join()
            assert full.value.code == "meeting_full"
            assert third.state == "new"
        await alice.wait_event("meeting.left")
        assert (await third.join())["state"] == "joined"
        await third.wait_until(lambda: third.frames_from(alice.participant_id) >= 5, 20)
    rows = (
        await api(meeting_server, host, "GET", f"/api/v1/meetings/{meeting['id']}/attendance")
    ).json()
    joined = {r["name"]: r["joined_at"] is not None for r in rows}
    assert joined == {alice.room["me"]["name"]: True, "Second": True, "Third": True}


async def test_end_for_all_disconnects_everyone_and_keeps_the_attendance(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, token=member) as bob,
        participant(meeting_server, meeting, name="Carol") as carol,
    ):
        await carol.wait_until(lambda: carol.frames_from(bob.participant_id) >= 20, 20)
        with pytest.raises(MeetingError) as not_host:
            await bob.request("meeting.end")
        assert not_host.value.code == "meeting_forbidden"
        await alice.request("meeting.end")
        for client in (bob, carol, alice):
            ended = await client.wait_event("meeting.ended")
            assert ended.data == {"reason": "host"}
            await client.wait_until(lambda c=client: c.signaling.closed, 5)
    with pytest.raises(MeetingError) as over:
        await get_ticket(
            meeting_server.url, meeting["number"], token=member, passcode=meeting["passcode"]
        )
    assert over.value.code in ("meeting_ended", "meeting_not_found")
    rows = (
        await api(meeting_server, host, "GET", f"/api/v1/meetings/{meeting['id']}/attendance")
    ).json()
    assert sorted(r["name"] for r in rows) == sorted(
        ["Carol", alice.room["me"]["name"], bob.room["me"]["name"]]
    )
    assert all(
        r["left_at"] and r["leave_reason"] == "ended" and r["media"] == "video" for r in rows
    )
    got = (await api(meeting_server, host, "GET", f"/api/v1/meetings/{meeting['id']}")).json()
    assert got["status"] == "ended" and got["end_reason"] == "host"
    # each stay is one usage record on the host's account, for the seconds it lasted
    ctx = await meeting_server.context()
    async with ctx.db.session() as s:
        usage = (
            await s.scalars(
                select(UsageRecord).where(
                    UsageRecord.source_id.in_([r["participant_id"] for r in rows])
                )
            )
        ).all()
    # (a stay shorter than a second is not billed)
    assert sorted((u.source_id, u.quantity_s, u.usage_type) for u in usage) == sorted(
        (r["participant_id"], r["seconds"], "meeting.video") for r in rows if r["seconds"]
    )
    host_row = next(r for r in rows if r["role"] == "host")
    assert host_row["seconds"] >= 1 and {u.user_id for u in usage} == {got["host_id"]}


async def test_participants_cannot_use_host_controls(
    meeting_server: ServerProcess, host: str, member: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, token=member) as bob,
    ):
        for type_, data in [
            ("meeting.mute", {"participant_id": alice.participant_id, "audio": True}),
            ("meeting.mute_all", {}),
            ("meeting.remove", {"participant_id": alice.participant_id}),
            ("meeting.lock", {"locked": True}),
            ("meeting.record", {"on": True}),
            ("meeting.admit", {"all": True}),
        ]:
            with pytest.raises(MeetingError) as refused:
                await bob.request(type_, data)
            assert refused.value.code == "meeting_forbidden", type_
        resp = await api(
            meeting_server, member, "POST", f"/api/v1/meetings/{meeting['id']}/mute-all", json={}
        )
        assert resp.json()["error"]["code"] == "meeting_not_found"  # not even visible to bob
        assert alice.room["me"]["audio_muted"] is False


async def test_bad_input_is_refused_and_disturbs_nothing(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host) as alice,
        participant(meeting_server, meeting, name="Bob") as bob,
    ):
        await bob.wait_until(lambda: bob.frames_from(alice.participant_id) >= 10, 20)
        with pytest.raises(MeetingError) as jsep:
            await bob.request("meeting.publish", {"kind": "screen", "sdp": "v=0\r\nnot an offer"})
        assert jsep.value.code == "invalid_sdp"
        with pytest.raises(MeetingError) as feed:
            await bob.request("meeting.subscribe", {"feed_id": 12345})
        assert feed.value.code == "meeting_feed_not_found"
        with pytest.raises(MeetingError) as shape:
            await bob.request("meeting.mute", {"participant_id": 5})
        assert shape.value.code == "malformed_message"
        before = bob.frames_from(alice.participant_id)
        await bob.wait_until(lambda: bob.frames_from(alice.participant_id) >= before + 10, 10)


async def test_chat_everyone_private_flood_and_export(
    meeting_server: ServerProcess, host: str
) -> None:
    meeting = await create_meeting(meeting_server, host)
    async with (
        participant(meeting_server, meeting, token=host, publish_video=False) as alice,
        participant(meeting_server, meeting, name="+Bob", publish_video=False) as bob,
        participant(meeting_server, meeting, name="Carol", publish_video=False) as carol,
    ):
        await bob.request("meeting.chat", {"text": "大家好"})
        await alice.request("meeting.chat", {"text": "=just for carol", "to": carol.participant_id})
        await carol.wait_until(
            lambda: len([e for e in carol.events if e.type == "meeting.chat"]) == 2, 5
        )
        await asyncio.sleep(0.3)
        assert [e.data["message"]["text"] for e in bob.events if e.type == "meeting.chat"] == [
            "大家好"
        ]

        limited = 0
        for i in range(30):
            try:
                await bob.request("meeting.chat", {"text": f"flood {i}"})
            except MeetingError as exc:
                assert exc.code == "chat_rate_limited"
                limited += 1
        assert limited >= 15
        await alice.request("meeting.chat", {"text": "still here"})  # others unaffected
        resp = await api(
            meeting_server, host, "GET", f"/api/v1/meetings/{meeting['id']}/chat?format=csv"
        )
        lines = resp.text.lstrip("\ufeff").splitlines()
        assert lines[0] == "at,from,from_id,to,text"
        assert lines[1].endswith(",大家好") and lines[2].endswith(",'=just for carol")
        assert ",'+Bob," in lines[1]  # a name typed by a guest is no formula either
        assert len(lines) == 1 + 2 + (30 - limited) + 1
