"""CallClient pairs through the stand-in signaling server: real aiortc media, measured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.integration.client.switch import Switch
from yuntong.client.call import CallClient
from yuntong.client.signaling import Signaling, SignalingError


@asynccontextmanager
async def party(switch: Switch, user: str) -> AsyncIterator[CallClient]:
    signaling = Signaling(switch.url, token=user, device=f"{user}-dev")
    await signaling.connect()
    lines: list[str] = []
    client = CallClient(signaling, [], progress=lines.append, quality_interval_s=1.0)
    client.start()
    try:
        yield client
    finally:
        await client.close()
        await signaling.close()


async def test_video_call_carries_measured_media_both_ways(switch: Switch) -> None:
    async with party(switch, "alice") as alice, party(switch, "bob") as bob:
        answering = asyncio.create_task(bob.answer_next(timeout=10))
        call_id = await alice.place("bob", "video")
        assert await answering == call_id
        assert await alice.wait_connected(10) and await bob.wait_connected(10)
        await asyncio.sleep(3)
        await alice.hangup()
        assert await bob.wait_ended(5)
        results = [await alice.result(), await bob.result()]

    for result in results:
        assert result.call_id == call_id
        assert (result.answered, result.connected, result.outcome) == (True, True, "answered")
        assert result.frames_decoded >= 20  # 15 fps for ≥ 3 s: ~45, less on a busy machine
        assert result.video_counter_first is not None and result.video_counter_last is not None
        assert result.video_counter_last - result.video_counter_first >= 20
        # a −9 dBFS mono tone; aiortc's mono→stereo upmix takes 3 dB off each channel
        assert -14 < result.audio_rms_dbfs < -10
        assert result.remote_received["audio"] > 0 and result.remote_received["video"] > 0
        assert result.media_both_ways
        assert result.local_candidate_types == ["host"]
    assert [user for user, _ in switch.of_type("call.ringing")] == ["bob"]
    assert sorted(user for user, _ in switch.of_type("call.media")) == ["alice", "bob"]
    finals = [m["data"] for _, m in switch.of_type("call.quality") if m["data"]["final"]]
    assert len(finals) == 2 and all(q["frames_decoded"] > 0 for q in finals)
    periodic = [m["data"] for _, m in switch.of_type("call.quality") if not m["data"]["final"]]
    # loopback: milliseconds, but a loaded test machine can delay RTCP handling
    assert periodic and all(q["rtt_ms"] is None or q["rtt_ms"] < 1000 for q in periodic)


async def test_audio_call_has_no_video(plain_switch: Switch) -> None:
    async with party(plain_switch, "carol") as carol, party(plain_switch, "dave") as dave:
        answering = asyncio.create_task(dave.answer_next(timeout=10))
        await carol.place("dave", "audio")
        await answering
        assert await carol.wait_connected(10)
        await asyncio.sleep(2)
        await dave.hangup()
        assert await carol.wait_ended(5)
        result = await carol.result()
    assert result.media_both_ways
    assert result.frames_decoded == 0
    assert result.remote_received.keys() == {"audio"}


async def test_caller_cancels_while_the_callee_rings(plain_switch: Switch) -> None:
    async with party(plain_switch, "erin") as erin, party(plain_switch, "frank") as frank:
        ringing = asyncio.create_task(frank.answer_next(auto_answer=False, timeout=10))
        await erin.place("frank", "audio")
        await ringing
        assert frank.state == "ringing"
        await erin.hangup()
        assert await frank.wait_ended(5)
        caller, callee = await erin.result(), await frank.result()
    assert (caller.outcome, callee.outcome) == ("canceled", "canceled")
    assert not caller.answered and not caller.media_both_ways


async def test_callee_rejects(plain_switch: Switch) -> None:
    async with party(plain_switch, "gina") as gina, party(plain_switch, "hugo") as hugo:
        ringing = asyncio.create_task(hugo.answer_next(auto_answer=False, timeout=10))
        await gina.place("hugo", "video")
        await ringing
        await hugo.reject()
        assert not await gina.wait_answered(5)
        assert (await gina.result()).outcome == "rejected"


async def test_calling_nobody_raises_the_server_error(plain_switch: Switch) -> None:
    async with party(plain_switch, "ivan") as ivan:
        with pytest.raises(SignalingError) as failure:
            await ivan.place("nobody", "audio")
    assert failure.value.code == "user_not_found"


async def test_a_second_call_needs_a_new_client(plain_switch: Switch) -> None:
    async with party(plain_switch, "jane") as jane, party(plain_switch, "kim") as _kim:
        ringing = asyncio.create_task(_kim.answer_next(auto_answer=False, timeout=10))
        await jane.place("kim", "audio")
        await ringing
        with pytest.raises(RuntimeError):
            await jane.place("kim", "audio")
        await jane.hangup()
