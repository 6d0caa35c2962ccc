"""The join link of a meeting that has ended: what a guest's API call and a browser see."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import unique
from yuntong.accounts import registration
from yuntong.accounts.auth import Principal, principal_for
from yuntong.core.context import Context
from yuntong.meetings import service
from yuntong.meetings.models import Meeting
from yuntong.meetings.service import MeetingInput


async def host(ctx: Context) -> Principal:
    created = await registration.do_create_admin(
        ctx, unique("h"), "correct horse battery", "subscriber"
    )
    return principal_for(created, "", via="test")


async def ticket(client: httpx.AsyncClient, number: str, locale: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/meetings/by-number/{number}/tickets",
        json={"display_name": "访客", "passcode": "123456"},
        headers={"Accept-Language": locale},
    )


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_an_ended_meetings_link_says_it_has_ended(
    ctx: Context, app_client: httpx.AsyncClient, locale: str
) -> None:
    meeting = await service.do_create(ctx, await host(ctx), MeetingInput(title="周会"))
    await service.do_end_unstarted(ctx, meeting.id)
    title = "会议已结束" if locale == "zh-CN" else "The meeting has ended"

    refused = await ticket(app_client, meeting.number, locale)
    assert refused.status_code == 410, refused.text
    assert refused.json()["error"]["code"] == "meeting_ended"
    assert refused.json()["error"]["message"] == title

    page = await app_client.get(
        f"/m/{meeting.number}?pwd={meeting.passcode}", headers={"Accept-Language": locale}
    )
    assert page.status_code == 200
    assert 'id="meeting-ended"' in page.text and title in page.text
    body = "该会议已经结束，无法加入。" if locale == "zh-CN" else "It can no longer be joined."
    assert body in page.text
    assert 'id="prejoin-form"' not in page.text  # nothing offers to join it


async def test_a_number_never_used_is_still_not_found_and_a_reused_one_leads_to_the_new_meeting(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    unknown = await ticket(app_client, "100000001", "en")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "meeting_not_found")

    alice = await host(ctx)
    old = await service.do_create(ctx, alice, MeetingInput(title="旧", passcode="123456"))
    await service.do_end_unstarted(ctx, old.id)
    new = await service.do_create(ctx, alice, MeetingInput(title="新", passcode="123456"))
    async with ctx.db.session() as s:  # the ended meeting's number, as a new one may get it
        row = await s.get(Meeting, new.id)
        assert row is not None
        row.number = old.number
    answer = await ticket(app_client, old.number, "en")
    assert answer.status_code == 200, answer.text
    assert answer.json()["meeting"]["id"] == new.id
    page = await app_client.get(f"/m/{old.number}", headers={"Accept-Language": "en"})
    assert 'id="prejoin-form"' in page.text and 'id="meeting-ended"' not in page.text


async def test_the_link_page_tells_a_guesser_nothing_once_past_the_guess_limit(
    ctx: Context, app_client: httpx.AsyncClient
) -> None:
    """Whether a number held a meeting is guessable, so the page's 'has ended' counts as a
    ticket request does: each number without an open meeting is a miss for the client, and
    past the limit (30) an ended meeting's page shows the plain join form (its request will
    say the client must wait) instead of telling which numbers were meetings."""
    meeting = await service.do_create(ctx, await host(ctx), MeetingInput(title="周会"))
    await service.do_end_unstarted(ctx, meeting.id)
    first = await app_client.get(f"/m/{meeting.number}", headers={"Accept-Language": "en"})
    assert 'id="meeting-ended"' in first.text
    for n in range(ctx.settings.meeting_passcode_client_max_failures):
        await app_client.get(f"/m/{200000000 + n}", headers={"Accept-Language": "en"})
    later = await app_client.get(f"/m/{meeting.number}", headers={"Accept-Language": "en"})
    assert 'id="meeting-ended"' not in later.text
    refused = await ticket(app_client, meeting.number, "en")
    assert refused.json()["error"]["code"] == "rate_limited"
