"""The meeting socket's message lanes: order kept where it matters, the rest side by side."""

from __future__ import annotations

import asyncio

from yuntong.meetings.ws import MAIN_LANE, _lane
from yuntong.realtime.gateway import Lanes
from yuntong.realtime.protocol import Envelope


def env(type_: str, **data: object) -> Envelope:
    return Envelope(v=1, type=type_, id="1", data=data)


def test_lanes_of_messages() -> None:
    assert _lane(env("meeting.join")) == MAIN_LANE
    assert _lane(env("meeting.publish", sdp="x")) == MAIN_LANE
    # the publisher's ICE follows its publish, in the main lane
    assert _lane(env("meeting.ice", target="camera", candidate=None)) == MAIN_LANE
    assert _lane(env("meeting.restart", target="screen", sdp="x")) == MAIN_LANE
    # a subscription's messages share its lane
    sub = {
        _lane(env("meeting.answer", sub_id="s12", sdp="x")),
        _lane(env("meeting.ice", target="s12", candidate=None)),
        _lane(env("meeting.layer", sub_id="s12", substream=1)),
        _lane(env("meeting.unsubscribe", sub_id="s12")),
    }
    assert sub == {"sub:s12"}
    # each subscribe runs on its own
    assert _lane(env("meeting.subscribe", feed_id=1)) is None
    # host controls aimed at a participant stay in the main lane whatever the id looks like
    assert _lane(env("meeting.mute", participant_id="s1")) == MAIN_LANE


async def test_order_within_a_lane_and_parallel_across_lanes() -> None:
    lanes = Lanes(limit=8)
    log: list[str] = []
    slow_started = asyncio.Event()

    async def step(name: str, delay: float) -> None:
        log.append(f"{name}>")
        if name == "a1":
            slow_started.set()
        await asyncio.sleep(delay)
        log.append(f"<{name}")

    await lanes.run("a", step("a1", 0.05))
    await lanes.run("a", step("a2", 0))
    await lanes.run(None, step("b1", 0))
    await lanes.drain(5)
    # b1 ran while a1 was still sleeping; a2 only after a1 ended
    assert log.index("<b1") < log.index("<a1") < log.index("a2>")


async def test_the_reader_waits_when_too_much_is_in_flight() -> None:
    lanes = Lanes(limit=2)
    release = asyncio.Event()
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    await lanes.run("x", work())
    await lanes.run("y", work())
    third = asyncio.create_task(lanes.run("z", work()))
    await asyncio.sleep(0.05)
    assert not third.done()  # the socket stops reading
    release.set()
    await third
    await lanes.drain(5)
    assert peak == 2 and running == 0
