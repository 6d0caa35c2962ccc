"""Publishing: each participant's camera and screen feeds, each through a publisher handle of
its own, and the host's mutes enforced on them in Janus."""

from __future__ import annotations

from typing import Any

from yuntong.core.errors import YuntongError
from yuntong.media.janus import JanusError, JanusEvent
from yuntong.meetings.live.janus_room import JanusRoom, OnEvent
from yuntong.meetings.live.participant import Feed, Kind, Participant, Participants


class Publishing:
    """The feeds of one room's participants."""

    def __init__(self, janus: JanusRoom, members: Participants, on_event: OnEvent) -> None:
        self.janus = janus
        self.members = members
        self._on_event = on_event  # the room's: a handle's events go through the room

    async def publish(self, p: Participant, kind: Kind, sdp: str) -> dict[str, Any]:
        old = p.feeds.get(kind)
        if old is not None:
            await self.drop(p, old)
        handle = await self.janus.attach(p, self._on_event)
        feed = Feed(self.janus.new_feed_id(), kind, handle)
        p.feeds[kind] = feed
        try:
            await handle.message(
                {
                    "request": "join",
                    "ptype": "publisher",
                    "room": self.janus.room_id,
                    "id": feed.feed_id,
                    "display": f"{p.id}:{kind}",
                }
            )
            answer = await handle.message(
                {"request": "publish", "display": f"{p.id}:{kind}"},
                {"type": "offer", "sdp": sdp},
            )
        except JanusError as exc:
            p.feeds.pop(kind, None)
            await self.janus.detach(handle)
            raise YuntongError("invalid_sdp") from exc
        if answer.jsep is None:
            raise YuntongError("invalid_sdp")
        for stream in answer.data.get("streams", []):
            if stream.get("type") in ("audio", "video") and not stream.get("disabled"):
                feed.mids.setdefault(str(stream["type"]), str(stream["mid"]))
        if "video" in feed.mids and kind == "camera":
            p.sent_video = True
        if kind == "camera":
            await self.apply_host_mutes(p)
        return {"sdp": answer.jsep["sdp"], "feed_id": feed.feed_id}

    async def restart(self, p: Participant, kind: Kind, sdp: str) -> dict[str, Any]:
        """ICE restart of a publisher: its new offer, Janus's new answer."""
        feed = p.feeds.get(kind)
        if feed is None:
            raise YuntongError("meeting_feed_not_found")
        try:
            answer = await feed.handle.message(
                {"request": "configure"}, {"type": "offer", "sdp": sdp}
            )
        except JanusError as exc:
            raise YuntongError("invalid_sdp") from exc
        if answer.jsep is None:
            raise YuntongError("invalid_sdp")
        return {"sdp": answer.jsep["sdp"]}

    async def unpublish(self, p: Participant, kind: Kind) -> None:
        feed = p.feeds.get(kind)
        if feed is not None:
            await self.drop(p, feed)

    async def drop(self, p: Participant, feed: Feed, notify: bool = True) -> None:
        if p.feeds.get(feed.kind) is feed:
            del p.feeds[feed.kind]
        await self.janus.detach(feed.handle)
        if feed.up and notify:
            await self.members.broadcast("meeting.feed_gone", {"feed_id": feed.feed_id}, but=p)

    async def kick(self, p: Participant) -> None:
        """Janus drops every feed of ``p`` (a removed participant)."""
        for feed in list(p.feeds.values()):
            await self.janus.kick(feed)

    async def moderate(self, p: Participant, kind: str, mute: bool) -> None:
        feed = p.feeds.get("camera")
        if feed is not None:
            await self.janus.moderate(feed, kind, mute)

    async def apply_host_mutes(self, p: Participant) -> None:
        """Mutes decided before this camera feed existed (mute on entry, host, Janus restart)."""
        if p.host_muted_audio:
            await self.moderate(p, "audio", True)
        if p.host_muted_video:
            await self.moderate(p, "video", True)

    async def on_event(self, p: Participant, feed: Feed, event: JanusEvent) -> None:
        """An event of one of ``p``'s publisher handles."""
        if event.kind == "webrtcup" and not feed.up and p.feeds.get(feed.kind) is feed:
            feed.up = True
            message = {"feed_id": feed.feed_id, "participant_id": p.id, "kind": feed.kind}
            await self.members.broadcast("meeting.feed", message, but=p)
        elif event.kind == "hangup" and p.feeds.get(feed.kind) is feed:
            await self.drop(p, feed)
        elif event.kind == "slowlink":
            await self.members.set_quality(p, "poor")
        elif event.kind == "event" and event.data.get("id") == feed.feed_id:
            talking = event.data.get("videoroom")
            if talking in ("talking", "stopped-talking"):
                message = {"participant_id": p.id, "speaking": talking == "talking"}
                await self.members.broadcast("meeting.speaking", message)
