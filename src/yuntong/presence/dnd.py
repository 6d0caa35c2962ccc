"""Do-not-disturb as every node sees it. The truth is in the database: the manual switch on the
user's row (``users.dnd``), the schedules (``dnd_schedules``) and their pause (``dnd_pauses``).
What is cached is that whole state (:class:`~yuntong.presence.windows.DndState`), never the
bare answer: whether a user is in a window is worked out at the moment it is asked, so a window
starting or ending is seen at once on every node without anything being written.

On the embedded single node this process keeps the state of its online users (read when first
asked for, dropped on the durable ``presence.dnd`` topic: a change made by the CLI reaches it
through the change feed); with several nodes Redis caches it per user, written at once by the
node where it changed (docs/operations.md, "Shared truth").
"""

from __future__ import annotations

import contextlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from yuntong.accounts import directory
from yuntong.config import Settings
from yuntong.core.context import Context, Piece
from yuntong.core.logging import get_logger
from yuntong.core.shared import RedisLink, SharedUnavailable, redis_link
from yuntong.core.workdays import WorkCalendar
from yuntong.presence import store
from yuntong.presence.windows import DndState, Effective, Window, weekday_mask, weekdays_of
from yuntong.realtime.connection import hub_of

log = get_logger(__name__)

KEY = "yuntong:dnd:{}"
# how long a cached state is kept: read from the database again after that, which also bounds
# how long a change written while Redis was unreachable from one node can be missed
CACHE_TTL_S = 300
CALENDAR_RELOAD_S = 3600.0  # an imported holiday schedule reaches the windows within the hour


# -- the operator's time zone and calendar -------------------------------------------------


class DndCalendar:
    """The business time zone and the working-day calendar (public holidays and make-up
    working days) the windows are read in; the calendar's files are read again hourly."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.business_timezone)
        self._calendar = WorkCalendar.from_settings(settings)
        self._loaded = time.monotonic()

    def is_workday(self, day: date) -> bool:
        if time.monotonic() - self._loaded > CALENDAR_RELOAD_S:
            self._calendar = WorkCalendar.from_settings(self.settings)
            self._loaded = time.monotonic()
        return self._calendar.is_workday(day)

    def is_on(self, state: DndState, now: datetime) -> bool:
        return state.is_on(now, self.tz, self.is_workday)

    def evaluate(self, state: DndState, now: datetime) -> Effective:
        return state.evaluate(now, self.tz, self.is_workday)


CALENDAR = Piece(
    "presence.dnd_calendar",
    "per-node cache",
    lambda ctx: DndCalendar(ctx.settings),
    "the business time zone and working-day calendar do-not-disturb windows are read in "
    "(holiday files read again hourly)",
)


def calendar_of(ctx: Context) -> DndCalendar:
    return ctx.services.get(CALENDAR)


# -- the state, read and cached ------------------------------------------------------------


async def states_from_database(ctx: Context, user_ids: Sequence[int]) -> dict[int, DndState]:
    """Each user's switch, enabled windows and pause, read in at most three queries."""
    manual = await directory.dnd_among(ctx, user_ids)
    async with ctx.db.connection() as conn:
        windows = await store.windows_among(conn, user_ids)
        paused = await store.pauses_among(conn, list(windows)) if windows else {}
    return {
        uid: DndState(uid in manual, tuple(windows.get(uid, ())), paused.get(uid))
        for uid in user_ids
    }


def encode(state: DndState) -> str:
    """The cached form: ``0`` for the common "nothing set", else compact JSON."""
    if state == DndState():
        return "0"
    data: dict[str, Any] = {"m": int(state.manual)}
    if state.windows:
        data["w"] = [[w.days, weekday_mask(w.weekdays), w.start, w.end] for w in state.windows]
    if state.paused_until is not None:
        data["p"] = state.paused_until.isoformat()
    return json.dumps(data, separators=(",", ":"))


def decode(raw: bytes | str) -> DndState:
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text in ("0", "1"):  # also what nodes caching the bare switch wrote
        return DndState(manual=text == "1")
    data = json.loads(text)
    windows = tuple(
        Window(days, weekdays_of(mask), start, end) for days, mask, start, end in data.get("w", ())
    )
    paused = data.get("p")
    return DndState(
        bool(data.get("m")), windows, None if paused is None else datetime.fromisoformat(paused)
    )


class DndStates(ABC):
    """Who is not to be disturbed, and why."""

    async def among(self, ctx: Context, user_ids: Sequence[int]) -> set[int]:
        """Which of ``user_ids`` (online users) are not to be disturbed now."""
        if not user_ids:
            return set()
        states = await self.states_among(ctx, user_ids)
        calendar, now = calendar_of(ctx), ctx.clock.now()
        return {uid for uid, state in states.items() if calendar.is_on(state, now)}

    @abstractmethod
    async def states_among(self, ctx: Context, user_ids: Sequence[int]) -> dict[int, DndState]:
        """Each user's do-not-disturb state (cached)."""

    @abstractmethod
    async def note(self, user_id: int, state: DndState) -> None:
        """The user's state changed (already written to the database), read back as ``state``."""

    @abstractmethod
    async def forget(self, user_id: int) -> None:
        """The user's state changed somewhere (the ``presence.dnd`` topic)."""

    @abstractmethod
    async def online(self, ctx: Context, user_id: int) -> None:
        """The user's first device here came online."""

    @abstractmethod
    async def offline(self, user_id: int) -> None:
        """The user's last device here is gone."""


class LocalDnd(DndStates):
    """One process: each online user's state, read from the database when first asked for
    (a user coming online costs nothing until someone looks at their presence)."""

    def __init__(self) -> None:
        self.known: dict[int, DndState] = {}
        self.generation = 0  # bumped by every drop: a read begun before one is not kept

    async def states_among(self, ctx: Context, user_ids: Sequence[int]) -> dict[int, DndState]:
        found = {uid: self.known[uid] for uid in user_ids if uid in self.known}
        missing = [uid for uid in user_ids if uid not in found]
        if missing:
            generation = self.generation
            read = await states_from_database(ctx, missing)
            found.update(read)
            if generation == self.generation:
                hub = hub_of(ctx)
                for uid in missing:  # a state noted meanwhile is newer than the read
                    if hub.has_devices_here(uid):  # bounded by the users online here
                        self.known.setdefault(uid, read[uid])
        return found

    async def note(self, user_id: int, state: DndState) -> None:
        self.generation += 1
        self.known[user_id] = state

    async def forget(self, user_id: int) -> None:
        self.generation += 1
        self.known.pop(user_id, None)

    async def online(self, ctx: Context, user_id: int) -> None:
        """Nothing to load: the state is read when first asked for."""

    async def offline(self, user_id: int) -> None:
        self.known.pop(user_id, None)


class RedisDnd(DndStates):
    """Every node: the state cached in Redis per user (:func:`encode`), filled from the
    database on a miss; read from the database alone while Redis is unreachable."""

    def __init__(self, link: RedisLink, ttl_s: int = CACHE_TTL_S) -> None:
        self.link = link
        self.ttl_s = ttl_s

    async def states_among(self, ctx: Context, user_ids: Sequence[int]) -> dict[int, DndState]:
        if not user_ids:
            return {}
        keys = [KEY.format(user_id) for user_id in user_ids]

        async def cached(r: Redis) -> list[bytes | str | None]:
            found: list[bytes | str | None] = await r.mget(keys)
            return found

        try:
            raws = await self.link.run(cached)
        except SharedUnavailable:
            return await states_from_database(ctx, user_ids)
        found: dict[int, DndState] = {}
        missing: list[int] = []
        for user_id, raw in zip(user_ids, raws, strict=True):
            if raw:
                found[user_id] = decode(raw)
            else:
                missing.append(user_id)
        if missing:
            read = await states_from_database(ctx, missing)
            await self._fill(read)
            found.update(read)
        return found

    async def _fill(self, states: dict[int, DndState]) -> None:
        """Cache what was read, unless a node wrote a newer state meanwhile (``NX``)."""

        async def fill(r: Redis) -> None:
            async with r.pipeline(transaction=False) as pipe:
                for user_id, state in states.items():
                    pipe.set(KEY.format(user_id), encode(state), ex=self.ttl_s, nx=True)
                await pipe.execute()

        with contextlib.suppress(SharedUnavailable):  # read from the database next time
            await self.link.run(fill)

    async def note(self, user_id: int, state: DndState) -> None:
        async def write(r: Redis) -> None:
            await r.set(KEY.format(user_id), encode(state), ex=self.ttl_s)

        try:
            await self.link.run(write)
        except SharedUnavailable:
            log.warning("dnd_not_shared", user_id=user_id)

    async def forget(self, user_id: int) -> None:
        """Nothing to drop: the node that made the change wrote the new state to Redis."""

    async def online(self, ctx: Context, user_id: int) -> None:
        """Nothing to load: a state is read from the database when first asked for."""

    async def offline(self, user_id: int) -> None:
        """Kept: the user may still be online on another node."""


def _build(ctx: Context) -> DndStates:
    link = redis_link(ctx)
    return LocalDnd() if link is None else RedisDnd(link)


DND = Piece(
    "presence.dnd",
    "shared state",
    _build,
    "each user's do-not-disturb state — the switch, the schedules' windows, their pause (the "
    "truth is the database): cached per user in Redis with several nodes, else this process's "
    "online users', read when first asked for",
)


def dnd_states(ctx: Context) -> DndStates:
    return ctx.services.get(DND)
