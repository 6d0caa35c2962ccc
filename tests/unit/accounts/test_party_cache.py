"""The call path's in-memory view of account statuses: current after every status change."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from yuntong.accounts.models import User
from yuntong.accounts.parties import PartyCache


def user(status: str) -> User:
    return cast(User, SimpleNamespace(id=7, username="lin", status=status, status_reason=None))


async def test_a_status_change_drops_the_cached_status() -> None:
    cache = PartyCache()
    cache.remember(user("active"), cache.generation)
    assert cache.by_id[7].status == "active"
    await cache.on_status({"user_id": 7, "status": "suspended"})
    assert 7 not in cache.by_id
    assert cache.ids_by_username["lin"] == 7  # usernames never change


async def test_a_row_read_before_a_status_change_is_not_kept_after_it() -> None:
    cache = PartyCache()
    generation = cache.generation  # a reader starts its query ...
    message: dict[str, Any] = {"user_id": 7, "status": "suspended"}
    await cache.on_status(message)  # ... the status changes meanwhile ...
    party = cache.remember(user("active"), generation)  # ... and the old row arrives
    assert party.status == "active"  # the reader uses what it read, once
    assert 7 not in cache.by_id  # but the next invite reads the row again
