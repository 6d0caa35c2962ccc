"""The Janus client against a real Janus: VideoRoom rooms, events, errors, keepalive, auth."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from tests.support.janus import EventSink, Janus, frozen, needs_janus
from tests.support.server import wait_for
from yuntong.media.janus import (
    VIDEOROOM,
    JanusClient,
    JanusError,
    JanusEvent,
    JanusHandle,
    JanusUnavailable,
    janus_token,
)

pytestmark = needs_janus


@pytest.fixture
async def videoroom(janus_client: JanusClient) -> AsyncIterator[JanusHandle]:
    session = await janus_client.create_session(keepalive_s=2)
    yield await session.attach(VIDEOROOM)


async def create_room(handle: JanusHandle, janus: Janus, **options: object) -> int:
    room = secrets.randbelow(2**31) + 1
    created = await handle.request(
        {"request": "create", "room": room, "admin_key": janus.admin_key, **options}
    )
    assert created == {"videoroom": "created", "room": room, "permanent": False}
    return room


async def join(handle: JanusHandle, room: int, display: str) -> dict[str, object]:
    body = {"request": "join", "ptype": "publisher", "room": room, "display": display}
    event = await handle.message(body)
    assert event.kind == "event" and event.jsep is None
    return event.data


async def test_created_room_exists_and_is_listed(janus: Janus, videoroom: JanusHandle) -> None:
    room = await create_room(videoroom, janus)

    exists = await videoroom.request({"request": "exists", "room": room})
    listed = await videoroom.request({"request": "list"})

    assert exists["exists"] is True
    assert room in [entry["room"] for entry in listed["list"]]


async def test_rooms_cannot_be_created_without_the_admin_key(videoroom: JanusHandle) -> None:
    with pytest.raises(JanusError) as missing:
        await videoroom.request({"request": "create", "room": 1})
    with pytest.raises(JanusError) as wrong:
        await videoroom.request({"request": "create", "room": 1, "admin_key": "guess"})

    assert missing.value.janus_code == 429  # JANUS_VIDEOROOM_ERROR_MISSING_ELEMENT
    assert wrong.value.janus_code == 433  # JANUS_VIDEOROOM_ERROR_UNAUTHORIZED
    assert missing.value.code == "janus_error"


async def test_publisher_without_media_joins_and_is_a_participant(
    janus: Janus, videoroom: JanusHandle
) -> None:
    room = await create_room(videoroom, janus)

    joined = await join(videoroom, room, "alice")
    participants = await videoroom.request({"request": "listparticipants", "room": room})

    assert joined["videoroom"] == "joined" and joined["room"] == room
    assert participants["participants"] == [
        {"id": joined["id"], "display": "alice", "publisher": False}
    ]


async def test_participants_hear_who_joins_and_that_the_room_is_destroyed(
    janus: Janus, videoroom: JanusHandle
) -> None:
    room = await create_room(videoroom, janus, notify_joining=True)
    await join(videoroom, room, "alice")
    bob = await videoroom.session.attach(VIDEOROOM)

    bob_joined = await join(bob, room, "bob")
    joining = await asyncio.wait_for(videoroom.events.get(), 5)
    await videoroom.request({"request": "destroy", "room": room})
    destroyed = await asyncio.wait_for(videoroom.events.get(), 5)
    exists = await videoroom.request({"request": "exists", "room": room})

    assert joining.kind == "event"
    assert joining.data["joining"] == {"id": bob_joined["id"], "display": "bob"}
    assert destroyed.data == {"videoroom": "destroyed", "room": room}
    assert exists["exists"] is False


async def next_event(handle: JanusHandle, kind: str) -> JanusEvent:
    """The next event of ``kind`` on ``handle``, skipping others."""
    async with asyncio.timeout(5):
        while (event := await handle.events.get()).kind != kind:
            pass
    return event


async def test_publishing_media_answers_the_offer_and_reports_media_state(
    janus: Janus, videoroom: JanusHandle
) -> None:
    room = await create_room(videoroom, janus)
    watcher = await videoroom.session.attach(VIDEOROOM)
    await join(watcher, room, "bob")
    alice = await join(videoroom, room, "alice")
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    try:
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}

        configured = await videoroom.message({"request": "configure", "audio": True}, offer)
        assert configured.jsep is not None
        await pc.setRemoteDescription(RTCSessionDescription(**configured.jsep))
        webrtcup = await next_event(videoroom, "webrtcup")
        media = await next_event(videoroom, "media")
        published = await next_event(watcher, "event")
        await videoroom.hangup()
        hangup = await next_event(videoroom, "hangup")
    finally:
        await pc.close()

    assert configured.data["configured"] == "ok" and configured.jsep["type"] == "answer"
    assert webrtcup.message["sender"] == videoroom.id
    assert (media.message["type"], media.message["receiving"]) == ("audio", True)
    assert [p["id"] for p in published.data["publishers"]] == [alice["id"]]
    assert hangup.message["reason"] == "Janus API"


async def test_janus_errors_carry_janus_codes(janus_client: JanusClient) -> None:
    session = await janus_client.create_session()
    handle = await session.attach(VIDEOROOM)

    with pytest.raises(JanusError) as no_plugin:
        await session.attach("janus.plugin.nosuch")
    with pytest.raises(JanusError) as unknown_request:
        await handle.request({"request": "bogus"})
    with pytest.raises(JanusError) as no_room:
        await handle.message({"request": "join", "ptype": "publisher", "room": 1})

    assert no_plugin.value.janus_code == 460  # JANUS_ERROR_PLUGIN_NOT_FOUND
    assert unknown_request.value.janus_code == 423  # JANUS_VIDEOROOM_ERROR_INVALID_REQUEST
    assert no_room.value.janus_code == 426  # JANUS_VIDEOROOM_ERROR_NO_SUCH_ROOM


async def test_keepalive_keeps_a_session_past_the_janus_session_timeout(
    janus_client: JanusClient,
) -> None:
    kept = await janus_client.create_session(keepalive_s=2)
    silent = await janus_client.create_session(keepalive_s=None)

    await asyncio.wait_for(silent.ended.wait(), 12)  # Janus: timeout 5 s, checked every 2 s
    handle = await kept.attach(VIDEOROOM)

    assert not kept.ended.is_set()
    assert handle.id > 0
    with pytest.raises(JanusError) as gone:
        await silent.attach(VIDEOROOM)
    assert gone.value.janus_code == 458  # JANUS_ERROR_SESSION_NOT_FOUND


async def test_a_frozen_janus_times_out_and_a_dead_one_fails_pending_requests(
    disposable_janus: Janus,
) -> None:
    client = await JanusClient.connect(disposable_janus.url, disposable_janus.token())
    session = await client.create_session(keepalive_s=None)
    pid = disposable_janus.process.pid
    assert pid is not None

    os.kill(pid, signal.SIGSTOP)
    await wait_for(lambda: frozen(pid), timeout=5)
    with pytest.raises(JanusUnavailable, match="no answer to attach within"):
        await session.send({"janus": "attach", "plugin": VIDEOROOM}, timeout_s=0.3)
    pending = asyncio.create_task(session.attach(VIDEOROOM))
    await asyncio.sleep(0.1)
    os.kill(pid, signal.SIGKILL)

    with pytest.raises(JanusUnavailable) as lost:
        await asyncio.wait_for(pending, 5)
    assert "lost" in lost.value.detail
    assert lost.value.code == "janus_unavailable"
    assert session.ended.is_set()
    with pytest.raises(JanusUnavailable):
        await client.create_session()
    await client.close()


async def test_connecting_to_a_closed_port_is_unavailable() -> None:
    with pytest.raises(JanusUnavailable, match="cannot connect"):
        await JanusClient.connect("ws://127.0.0.1:9", timeout_s=2)


@pytest.mark.parametrize(
    ("secret", "ttl_s"),
    [(None, 0), ("not-the-secret", 600), ("janus", -10)],
    ids=["no token", "wrong secret", "expired"],
)
async def test_requests_without_a_valid_token_are_refused(
    janus: Janus, secret: str | None, ttl_s: int
) -> None:
    token = None
    if secret is not None:
        key = janus.token_secret if secret == "janus" else secret
        token = janus_token(key, datetime.now(UTC), ttl_s)
    client = await JanusClient.connect(janus.url, token)
    try:
        with pytest.raises(JanusError) as refused:
            await client.create_session()
    finally:
        await client.close()
    assert refused.value.janus_code == 403  # JANUS_ERROR_UNAUTHORIZED


async def test_a_token_opens_only_the_plugins_it_names(janus: Janus) -> None:
    client = await JanusClient.connect(janus.url, janus.token(plugins=["janus.plugin.echotest"]))
    try:
        session = await client.create_session()
        with pytest.raises(JanusError) as refused:
            await session.attach(VIDEOROOM)
    finally:
        await client.close()
    assert refused.value.janus_code == 405  # JANUS_ERROR_UNAUTHORIZED_PLUGIN


async def test_janus_posts_session_events_with_basic_auth(
    janus_client: JanusClient, janus_events: EventSink
) -> None:
    session = await janus_client.create_session()

    events = await janus_events.wait_for_session(session.id)

    assert {"type": 1, "name": "created"} in [
        {"type": e["type"], "name": e["event"]["name"]} for e in events
    ]
    credentials = f"{janus_events.user}:{janus_events.password}".encode()
    assert f"Basic {base64.b64encode(credentials).decode()}" in janus_events.authorizations
