"""The history page shows a call's holds in Chromium, on a phone (390 px) and a desktop: how
many and how long in all under the duration, and each period (who held it, from, to) on
hovering it. The call and its holds are written to the server's database as the call engine
writes them (tests/integration/supplementary/test_call_holds.py plays the calls)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import unique
from tests.e2e.conftest import log_in
from tests.support.server import ServerProcess
from yuntong.calls.models import CallHold, CallRecord
from yuntong.core.ids import new_id

pytestmark = pytest.mark.e2e


async def held_call(server: ServerProcess, caller_id: int, callee_id: int) -> str:
    """An answered call of 2 minutes, held twice: 20 s by the callee, 15 s by the caller."""
    ctx = await server.context()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    call_id = new_id()
    async with ctx.db.session() as s:
        s.add(
            CallRecord(
                id=call_id, caller_id=caller_id, callee_id=callee_id, media="audio",
                state="ended", outcome="answered", end_reason="hangup", created_at=start,
                answered_at=start, ended_at=start + timedelta(seconds=120), cause=16,
                duration_ms=120_000, billable_seconds=120, hung_up_by=caller_id,
            )
        )  # fmt: skip
        await s.flush()
        for user_id, begin, end in ((callee_id, 10, 30), (caller_id, 60, 75)):
            s.add(
                CallHold(
                    call_id=call_id,
                    user_id=user_id,
                    started_at=start + timedelta(seconds=begin),
                    ended_at=start + timedelta(seconds=end),
                )
            )
    return call_id


@pytest.mark.parametrize("width", [390, 1280])
async def test_the_history_shows_a_calls_holds(
    new_person: Any, e2e_server: ServerProcess, width: int
) -> None:
    person = await new_person()
    me = await e2e_server.create_user(person.username)
    other = await e2e_server.create_user(unique("peer"))
    call_id = await held_call(e2e_server, me, other)
    page = person.page
    await page.set_viewport_size({"width": width, "height": 844})
    await log_in(person, "/history")
    row = page.locator(f"#history-rows tr[data-call-id='{call_id}']")
    note = row.locator(".c-holds")
    await expect(note).to_have_text("On hold 2× · 0:35")
    await expect(note).to_be_visible()
    title = await note.get_attribute("title") or ""
    lines = title.split("\n")
    assert len(lines) == 2 and lines[0].startswith("Held by them: ")
    assert lines[1].startswith("Held by you: ")
    assert await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
