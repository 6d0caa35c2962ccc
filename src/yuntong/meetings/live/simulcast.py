"""Subscriptions: a participant receives another's feed through a subscriber handle of its
own, at the simulcast layer its tile asks for, held lower on its slow links and raised again
when they are quiet."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.core.logging import get_logger
from yuntong.media.janus import JanusError, JanusEvent, JanusHandle
from yuntong.meetings.live.janus_room import JanusRoom, OnEvent
from yuntong.meetings.live.participant import (
    TOP_LAYER,
    Feed,
    Participant,
    Participants,
    Subscription,
)

log = get_logger(__name__)
LAYER_HOLD_S = 3.0  # after lowering a subscriber's layer, slow links this soon do not count
LAYER_CONFIRM_S = 2.0  # a layer switch Janus has not confirmed by then is asked again


class Simulcast:
    """The subscriptions of one room's participants."""

    def __init__(
        self,
        ctx: Context,
        janus: JanusRoom,
        members: Participants,
        on_event: OnEvent,
        is_closed: Callable[[], bool],
    ) -> None:
        self.ctx = ctx
        self.janus = janus
        self.members = members
        self._on_event = on_event  # the room's: a handle's events go through the room
        self._is_closed = is_closed

    def find_feed(self, feed_id: int) -> tuple[Participant, Feed]:
        for q in self.members.joined():
            for feed in q.feeds.values():
                if feed.feed_id == feed_id and feed.up:
                    return q, feed
        raise YuntongError("meeting_feed_not_found")

    def sub(self, p: Participant, sub_id: str) -> Subscription:
        sub = p.subs.get(sub_id)
        if sub is None:
            raise YuntongError("meeting_feed_not_found")
        return sub

    async def subscribe(self, p: Participant, feed_id: int) -> dict[str, Any]:
        owner, _ = self.find_feed(feed_id)
        if owner is p:
            raise YuntongError("meeting_feed_not_found")
        handle = await self.janus.attach(p, self._on_event)
        try:
            offer = await handle.message(
                {
                    "request": "join",
                    "ptype": "subscriber",
                    "room": self.janus.room_id,
                    "streams": [{"feed": feed_id}],
                }
            )
        except JanusError as exc:
            await self.janus.detach(handle)
            raise YuntongError("meeting_feed_not_found") from exc
        if offer.jsep is None:
            await self.janus.detach(handle)
            raise YuntongError("meeting_feed_not_found")
        sub = Subscription(f"s{handle.id}", feed_id, handle)
        for stream in offer.data.get("streams", []):
            if stream.get("type") == "video":
                sub.video_mid = str(stream.get("mid"))
        p.subs[sub.sub_id] = sub
        return {"sub_id": sub.sub_id, "sdp": offer.jsep["sdp"], "feed_id": feed_id}

    async def answer(self, p: Participant, sub_id: str, sdp: str) -> None:
        sub = self.sub(p, sub_id)
        try:
            await sub.handle.message({"request": "start"}, {"type": "answer", "sdp": sdp})
        except JanusError as exc:
            raise YuntongError("invalid_sdp") from exc

    async def restart(self, p: Participant, sub_id: str) -> dict[str, Any]:
        sub = self.sub(p, sub_id)
        offer = await sub.handle.message({"request": "configure", "restart": True})
        if offer.jsep is None:
            raise YuntongError("meeting_feed_not_found")
        return {"sdp": offer.jsep["sdp"], "sub_id": sub_id}

    async def unsubscribe(self, p: Participant, sub_id: str) -> None:
        sub = p.subs.get(sub_id)
        if sub is not None:
            await self.close(p, sub)

    async def close(self, p: Participant, sub: Subscription) -> None:
        p.subs.pop(sub.sub_id, None)
        await self.janus.detach(sub.handle)

    async def layer(self, p: Participant, sub_id: str, substream: int) -> None:
        """The layer the client wants (by its tile's size); bandwidth may hold it lower."""
        sub = self.sub(p, sub_id)
        before, sub.wanted = sub.layer, substream
        if sub.layer != before:
            await self._send_layer(p, sub)

    async def _send_layer(self, p: Participant, sub: Subscription, tries: int = 3) -> None:
        """Ask Janus for ``sub.layer``. Janus switches on the layer's next keyframe, which it
        requests from the publisher; when that request is lost (or throttled), the switch never
        comes, so it is asked again after ``LAYER_CONFIRM_S`` without Janus's confirmation."""
        if sub.video_mid is None:
            return
        stream = {"mid": sub.video_mid, "substream": sub.layer}
        await sub.handle.message({"request": "configure", "streams": [stream]})
        target = sub.layer

        def check() -> None:
            if (
                tries > 1
                and sub.sending != target == sub.layer
                and p.subs.get(sub.sub_id) is sub
                and not self._is_closed()
            ):
                self.janus.spawn(self._resend_layer(p, sub, tries - 1))

        self.ctx.clock.call_later(LAYER_CONFIRM_S, check)

    async def _resend_layer(self, p: Participant, sub: Subscription, tries: int) -> None:
        with contextlib.suppress(YuntongError, JanusError):  # the subscription went away
            await self._send_layer(p, sub, tries)

    async def _slow(self, p: Participant, sub: Subscription) -> None:
        """Janus loses packets on the way to this subscriber: one layer down (at most one
        step per ``LAYER_HOLD_S``), and back up one step after a quiet
        ``meeting_layer_recover_s``."""
        now = time.monotonic()
        if sub.video_mid is None or sub.layer == 0 or now - sub.capped_at < LAYER_HOLD_S:
            return
        sub.cap, sub.capped_at = sub.layer - 1, now
        log.info("meeting_layer_lowered", participant=p.id, sub=sub.sub_id, layer=sub.layer)
        await self._send_layer(p, sub)
        self._schedule_raise(p, sub)

    def _schedule_raise(self, p: Participant, sub: Subscription) -> None:
        stamp = sub.capped_at

        def due() -> None:
            if sub.capped_at == stamp and p.subs.get(sub.sub_id) is sub and not self._is_closed():
                self.janus.spawn(self._raise_cap(p, sub))

        self.ctx.clock.call_later(self.ctx.settings.meeting_layer_recover_s, due)

    async def _raise_cap(self, p: Participant, sub: Subscription) -> None:
        before = sub.layer
        sub.cap, sub.capped_at = min(TOP_LAYER, sub.cap + 1), time.monotonic()
        if sub.layer != before:
            await self._resend_layer(p, sub, 3)
        if sub.cap < TOP_LAYER:
            self._schedule_raise(p, sub)

    async def on_event(self, p: Participant, handle: JanusHandle, event: JanusEvent) -> None:
        """An event of one of ``p``'s subscriber handles."""
        sub = next((s for s in p.subs.values() if s.handle is handle), None)
        if sub is None:
            return
        if event.kind == "hangup":
            p.subs.pop(sub.sub_id, None)
        elif event.kind == "slowlink" and event.message.get("media") == "video":
            await self._slow(p, sub)
        elif event.kind == "event" and isinstance(event.data.get("substream"), int):
            sub.sending = event.data["substream"]  # Janus switched: tell the client
            message = {"sub_id": sub.sub_id, "substream": sub.sending, "target": sub.layer}
            await self.members.send(p, "meeting.layer", {**message, "cap": sub.cap})
