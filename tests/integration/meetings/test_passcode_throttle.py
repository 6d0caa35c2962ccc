"""Meeting passcodes (six digits) must not be guessable: throttled per meeting and client,
and a meeting's passcode entry is locked for everyone after too many wrong guesses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import unique
from tests.support.clients import ClientFrom, clients_by_address
from yuntong.accounts import directory, registration
from yuntong.accounts.auth import principal_for
from yuntong.core.clock import FrozenClock
from yuntong.core.context import Context
from yuntong.meetings import service
from yuntong.meetings.models import Meeting, MeetingInvitation
from yuntong.meetings.service import MeetingInput

PASSWORD = "correct horse battery"


@pytest.fixture
async def client_from(ctx: Context) -> AsyncIterator[ClientFrom]:
    async with clients_by_address(ctx) as factory:
        yield factory


async def member(ctx: Context, client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    """A signed-in subscriber: their id and bearer header."""
    name = unique("m")
    user = await registration.do_create_admin(ctx, name, PASSWORD, "subscriber")
    resp = await client.post(
        "/api/v1/auth/login", json={"username": name, "password": PASSWORD, "kind": "api"}
    )
    return user.id, {"Authorization": f"Bearer {resp.json()['token']}"}


async def ticket(
    client: httpx.AsyncClient,
    meeting: Meeting,
    passcode: str | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/meetings/by-number/{meeting.number}/tickets",
        json={"passcode": passcode, "display_name": "访客"},
        headers={"Accept-Language": "en", **(headers or {})},
    )


def code(resp: httpx.Response) -> str:
    return str(resp.json()["error"]["code"])


def wrong_for(meeting: Meeting, n: int) -> str:
    guess = f"{n:06d}"
    return guess if guess != meeting.passcode else "999999x"


async def new_meeting(ctx: Context, client: httpx.AsyncClient) -> tuple[Meeting, dict[str, str]]:
    host_id, host = await member(ctx, client)
    user = await directory.get_user(ctx, host_id)
    meeting = await service.do_create(
        ctx, principal_for(user, "", "test"), MeetingInput(title="周会")
    )
    return meeting, host


async def test_anonymous_guessing_locks_the_meetings_passcode_entry_with_retry_after(
    ctx: Context, client_from: ClientFrom
) -> None:
    meeting, host = await new_meeting(ctx, client_from("192.0.2.1"))
    invited_id, invited = await member(ctx, client_from("192.0.2.1"))
    async with ctx.db.session() as s:
        s.add(
            MeetingInvitation(meeting_id=meeting.id, user_id=invited_id, created_at=ctx.clock.now())
        )
    limit = ctx.settings.meeting_passcode_meeting_max_failures
    # 200 guesses, each from an address of its own (a botnet dodging the per-client limit)
    answers = [
        await ticket(client_from(f"10.{n // 250}.{n % 250}.1"), meeting, wrong_for(meeting, n))
        for n in range(200)
    ]
    assert [code(r) for r in answers[:limit]] == ["meeting_passcode_wrong"] * limit
    for resp in answers[limit:]:
        assert resp.status_code == 429 and code(resp) == "meeting_passcode_locked"
    locked = answers[-1]
    wait = int(locked.headers["Retry-After"])
    minutes = ctx.settings.meeting_passcode_lockout_minutes
    assert 0 < wait <= minutes * 60 and locked.json()["error"]["retry_after"] == wait
    assert locked.json()["error"]["message"] == (
        f"Too many wrong passcodes: joining this meeting with a passcode is paused for "
        f"{minutes} minutes"
    )

    # while locked, the right passcode is refused too: it would tell the guessers they won
    right = await ticket(client_from("198.51.100.1"), meeting, meeting.passcode)
    assert right.status_code == 429 and code(right) == "meeting_passcode_locked"
    assert 0 < int(right.headers["Retry-After"]) <= wait
    # who needs no passcode still joins: the host and signed-in invited participants
    assert (await ticket(client_from("198.51.100.2"), meeting, None, host)).status_code == 200
    assert (await ticket(client_from("198.51.100.3"), meeting, None, invited)).status_code == 200
    # other meetings are not affected
    other, _ = await new_meeting(ctx, client_from("192.0.2.1"))
    assert (await ticket(client_from("198.51.100.1"), other, other.passcode)).status_code == 200

    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(seconds=wait)
    assert (await ticket(client_from("198.51.100.1"), meeting, meeting.passcode)).status_code == 200


async def test_one_client_guessing_is_held_off_before_the_meeting_locks(
    ctx: Context, client_from: ClientFrom
) -> None:
    meeting, _ = await new_meeting(ctx, client_from("192.0.2.1"))
    limit = ctx.settings.meeting_passcode_max_failures
    guesser = client_from("203.0.113.7")
    answers = [await ticket(guesser, meeting, wrong_for(meeting, n)) for n in range(limit + 3)]
    assert [code(r) for r in answers[:limit]] == ["meeting_passcode_wrong"] * limit
    for resp in answers[limit:]:
        assert resp.status_code == 429 and code(resp) == "rate_limited"
        assert int(resp.headers["Retry-After"]) > 0
    # the meeting itself is not locked: a guest with the passcode elsewhere joins
    assert (await ticket(client_from("198.51.100.9"), meeting, meeting.passcode)).status_code == 200


async def test_one_client_guessing_numbers_and_passcodes_across_meetings_is_held_off(
    ctx: Context, client_from: ClientFrom
) -> None:
    """Unknown meeting numbers and wrong passcodes, one per meeting, add up per client."""
    limit = ctx.settings.meeting_passcode_client_max_failures
    guesser = client_from("203.0.113.8")
    for n in range(limit):
        resp = await guesser.post(
            f"/api/v1/meetings/by-number/{100_000_000 + n}/tickets",
            json={"passcode": "123456", "display_name": "x"},
        )
        assert code(resp) == "meeting_not_found"
    meeting, _ = await new_meeting(ctx, client_from("192.0.2.1"))
    held = await ticket(guesser, meeting, meeting.passcode)
    assert held.status_code == 429 and code(held) == "rate_limited"
    assert (
        await ticket(client_from("198.51.100.10"), meeting, meeting.passcode)
    ).status_code == 200
