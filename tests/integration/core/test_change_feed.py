"""The durable change feed (core/changes.py): what one process publishes on a cache topic, the
others' subscribers receive; a row that commits late is not lost; old rows are pruned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import make_settings, own_database
from yuntong.accounts import parties
from yuntong.billing.catalog import catalog
from yuntong.billing.ledger import accounts as billing_accounts
from yuntong.contacts import service as contacts
from yuntong.core import changes
from yuntong.core.changes import CacheChange
from yuntong.core.context import Context
from yuntong.core.migrate import upgrade
from yuntong.numbers import directory as numbers_directory
from yuntong.presence import schedules as dnd_schedules
from yuntong.services import build_context


@pytest.fixture(params=["sqlite", "postgres"])
async def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Context]:
    """A Context on a database of its own: the session's shared one also has live servers on
    it, whose changes would be in the feed too."""
    async with own_database(request.param, tmp_path) as url:
        upgrade(url)
        context = build_context(make_settings(tmp_path / "var", url))
        yield context
        await context.db.dispose()


@pytest.fixture
async def other(ctx: Context) -> AsyncIterator[Context]:
    """Another process on the same database: a Context of its own, with its own bus."""
    context = build_context(ctx.settings)
    yield context
    await context.db.dispose()


def listen(ctx: Context, topic: str) -> list[dict[str, Any]]:
    heard: list[dict[str, Any]] = []

    async def handler(message: dict[str, Any]) -> None:
        heard.append(message)

    ctx.bus.subscribe(topic, handler)
    return heard


async def rows(ctx: Context) -> list[CacheChange]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(CacheChange).order_by(CacheChange.id))).scalars())


def test_every_cache_topic_is_durable() -> None:
    assert {
        parties.STATUS_CHANNEL,
        contacts.CHANGED_CHANNEL,
        catalog.CATALOG_CHANNEL,
        billing_accounts.ACCOUNT_CHANNEL,
        numbers_directory.CHANGED,
        dnd_schedules.CHANGED,
    } <= changes.DURABLE_TOPICS


async def test_another_process_receives_what_one_publishes(ctx: Context, other: Context) -> None:
    await changes.do_prime(other)
    heard_there = listen(other, parties.STATUS_CHANNEL)
    heard_here = listen(ctx, parties.STATUS_CHANNEL)

    await ctx.bus.publish(parties.STATUS_CHANNEL, {"user_id": 7, "status": "suspended"})
    await ctx.bus.publish("user:7", {"type": "not a cache topic"})
    assert heard_here == [{"user_id": 7, "status": "suspended"}]  # at once, here
    assert heard_there == []  # there: at its next poll
    assert [(r.topic, r.payload) for r in await rows(ctx)] == [
        (parties.STATUS_CHANNEL, {"user_id": 7, "status": "suspended"})
    ]

    assert await changes.do_poll(other) == 1
    assert heard_there == [{"user_id": 7, "status": "suspended"}]
    assert await changes.do_poll(other) == 0  # once only

    # what a process wrote itself reached its subscribers through its bus: not twice
    await changes.do_prime(ctx)
    await other.bus.publish(parties.STATUS_CHANNEL, {"user_id": 8, "status": "active"})
    assert await changes.do_poll(other) == 0
    assert heard_there[-1] == {"user_id": 8, "status": "active"}
    assert await changes.do_poll(ctx) == 1
    assert heard_here[-1] == {"user_id": 8, "status": "active"}


async def test_billing_accounts_changed_together_are_one_row(ctx: Context, other: Context) -> None:
    await changes.do_prime(other)
    heard = listen(other, billing_accounts.ACCOUNT_CHANNEL)
    await billing_accounts.publish_changed(ctx, 3, 1, 2, 3)
    assert len(await rows(ctx)) == 1
    await changes.do_poll(other)
    assert heard == [{"account_ids": [1, 2, 3], "opened": False}]


async def test_a_change_that_commits_late_is_still_delivered(ctx: Context, other: Context) -> None:
    """On PostgreSQL an id is taken at the insert and becomes visible at the commit: a row
    can appear below ids already read. Simulated: the middle row is missing at the first poll
    and appears (with its id) before the next."""
    await changes.do_prime(other)
    heard = listen(other, contacts.CHANGED_CHANNEL)
    for n in range(3):
        await ctx.bus.publish(contacts.CHANGED_CHANNEL, {"owner_id": n, "other_id": 9})
    _, late, _ = await rows(ctx)
    async with ctx.db.session() as s:
        await s.execute(delete(CacheChange).where(CacheChange.id == late.id))

    assert await changes.do_poll(other) == 2
    assert [m["owner_id"] for m in heard] == [0, 2]
    async with ctx.db.session() as s:  # the late commit
        s.add(
            CacheChange(
                id=late.id,
                topic=late.topic,
                payload=late.payload,
                origin=late.origin,
                created_at=late.created_at,
            )
        )
    assert await changes.do_poll(other) == 1
    assert [m["owner_id"] for m in heard] == [0, 2, 1]
    assert await changes.do_poll(other) == 0


async def test_rows_older_than_an_hour_are_pruned(ctx: Context, other: Context) -> None:
    await changes.do_prime(other)
    await ctx.bus.publish(catalog.CATALOG_CHANNEL, {})
    await ctx.bus.publish(catalog.CATALOG_CHANNEL, {})
    old, new = await rows(ctx)
    async with ctx.db.session() as s:
        row = await s.get(CacheChange, old.id)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(hours=1, minutes=1)
    await changes.do_poll(other)  # the first poll of a process prunes
    assert [r.id for r in await rows(ctx)] == [new.id]
    # ids are never handed out again, even when every row is gone
    async with ctx.db.session() as s:
        await s.execute(delete(CacheChange))
    await ctx.bus.publish(catalog.CATALOG_CHANNEL, {})
    (again,) = await rows(ctx)
    assert again.id > new.id
    async with ctx.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(CacheChange)) == 1
