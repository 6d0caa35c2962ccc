"""What the call path needs to know about a user, kept in memory.

Every call invite asks for the caller's and the callee's account status; reading two user rows
per invite was the largest cost of call set-up. Statuses change only through the enforcement
ladder and registration review, which publish on the ``accounts.status`` bus channel after
committing; this process drops its copy when that message arrives, so a suspension takes effect
on the next invite. The topic is durable (``core/changes.py``): a status changed by another
process (``yuntong user status``, another node) arrives on this bus within ``change_poll_s``.
Usernames never change, so the username → id map needs no invalidation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import store
from yuntong.accounts.models import User
from yuntong.core.context import Context, Piece

STATUS_CHANNEL = "accounts.status"  # durable bus topic: {"user_id", "status"} after every change
MAX_ENTRIES = 200_000  # ~100 bytes each; cleared wholesale when full


@dataclass(frozen=True, slots=True)
class Party:
    id: int
    status: str
    status_reason: str | None

    @classmethod
    def of(cls, user: User) -> Party:
        return cls(user.id, user.status, user.status_reason)


class PartyCache:
    def __init__(self) -> None:
        self.by_id: dict[int, Party] = {}
        self.ids_by_username: dict[str, int] = {}
        # bumped by every invalidation: a row read before it must not be stored after it
        self.generation = 0

    async def on_status(self, message: dict[str, Any]) -> None:
        self.generation += 1
        self.by_id.pop(int(message["user_id"]), None)

    async def load(self, s: AsyncSession, user_id: int) -> Party | None:
        generation = self.generation
        user = await store.get_user(s, user_id)
        return None if user is None else self.remember(user, generation)

    def remember(self, user: User, generation: int) -> Party:
        """Keep what was read from ``user`` unless a status changed since ``generation``."""
        party = Party.of(user)
        if len(self.by_id) >= MAX_ENTRIES:
            self.by_id.clear()
            self.ids_by_username.clear()
        if generation == self.generation:
            self.by_id[user.id] = party
        self.ids_by_username[user.username] = user.id
        return party


def _subscribed(ctx: Context) -> PartyCache:
    cache = PartyCache()
    ctx.bus.subscribe(STATUS_CHANNEL, cache.on_status)
    return cache


PARTIES = Piece(
    "accounts.parties",
    "per-node cache",
    _subscribed,
    "account status and username → id of call parties (dropped on accounts.status)",
)


def party_cache(ctx: Context) -> PartyCache:
    return ctx.services.get(PARTIES)
