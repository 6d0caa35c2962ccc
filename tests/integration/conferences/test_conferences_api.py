"""Conference calls through the REST API without media (SQLite and PostgreSQL): who may open
one on which number, the PIN's form and uniqueness per number, wrong PINs throttled, the
organiser's controls refused to others, a locked or ended conference refused."""

from __future__ import annotations

from typing import Any

from tests.integration.accounts.conftest import run_cli
from tests.integration.conferences.conftest import ConferenceWorld, Make, Subscriber, api
from yuntong.conferences import service
from yuntong.conferences.models import LegKind

OFFER = "v=0\r\n"  # never reaches Janus: every request here is refused before the bridge


async def open_conference(
    world: ConferenceWorld, who: Subscriber, dial_in: str, pin: str = "2468"
) -> Any:
    return await api(
        world.server, who, "POST", "/conferences", {"title": "Plan", "dial_in": dial_in, "pin": pin}
    )


async def test_a_conference_opens_on_the_organisers_own_number_with_a_pin(
    conference_world: ConferenceWorld, subscriber: Make
) -> None:
    world = conference_world
    alice = await subscriber(online=False)
    bob = await subscriber(online=False)
    made = await open_conference(world, alice, alice.number)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["dial_in"], body["state"], body["locked"], body["organiser"]) == (
        alice.e164,
        "open",
        False,
        True,
    )
    assert body["dial_string"] == f"{alice.e164}*PIN"
    listed = (await api(world.server, alice, "GET", "/conferences")).json()
    assert [c["id"] for c in listed] == [body["id"]]
    stored = await service.get_conference(world.server.app_context, body["id"])
    assert "2468" not in stored.pin_hash and len(stored.pin_hash) == 64
    # someone else's number, a PIN that is no PIN, the same PIN twice on one number
    other = await open_conference(world, bob, alice.e164)
    assert (other.status_code, other.json()["error"]["code"]) == (
        403,
        "conference_number_not_yours",
    )
    short = await open_conference(world, alice, alice.e164, pin="12")
    assert (short.status_code, short.json()["error"]["code"]) == (422, "conference_pin_invalid")
    again = await open_conference(world, alice, alice.e164)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "conference_pin_taken")
    second = await open_conference(world, alice, alice.e164, pin="97531")
    assert second.status_code == 201, second.text
    # others see it without its legs and may not use the controls
    seen = (await api(world.server, bob, "GET", f"/conferences/{body['id']}")).json()
    assert (seen["organiser"], seen["legs"]) == (False, None)
    for path, payload in (("lock", {"locked": True}), ("mute-all", {"muted": True}), ("end", None)):
        refused = await api(world.server, bob, "POST", f"/conferences/{body['id']}/{path}", payload)
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            403,
            "conference_forbidden",
        )
    missing = await api(world.server, alice, "GET", "/conferences/" + "0" * 32)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "conference_not_found")


async def test_wrong_pins_from_a_browser_are_throttled(
    conference_world: ConferenceWorld, subscriber: Make
) -> None:
    world = conference_world
    alice = await subscriber(online=False)
    mallory = await subscriber(online=False)
    conference = (await open_conference(world, alice, alice.e164)).json()
    path = f"/conferences/{conference['id']}/legs"
    codes = []
    for _ in range(service.PIN_MAX_FAILURES + 1):
        wrong = await api(world.server, mallory, "POST", path, {"sdp": OFFER, "pin": "0000"})
        codes.append((wrong.status_code, wrong.json()["error"]["code"]))
    assert codes[:-1] == [(403, "conference_pin_wrong")] * service.PIN_MAX_FAILURES
    assert codes[-1] == (429, "rate_limited")
    right = await api(world.server, mallory, "POST", path, {"sdp": OFFER, "pin": "2468"})
    assert (right.status_code, right.json()["error"]["code"]) == (429, "rate_limited")


async def test_a_locked_or_ended_conference_takes_no_browser(
    conference_world: ConferenceWorld, subscriber: Make
) -> None:
    world = conference_world
    alice = await subscriber(online=False)
    bob = await subscriber(online=False)
    conference = (await open_conference(world, alice, alice.e164)).json()
    path = f"/conferences/{conference['id']}"
    locked = await api(world.server, alice, "POST", f"{path}/lock", {"locked": True})
    assert locked.json()["locked"] is True
    refused = await api(world.server, bob, "POST", f"{path}/legs", {"sdp": OFFER, "pin": "2468"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (423, "conference_locked")
    ended = await api(world.server, alice, "POST", f"{path}/end")
    assert ended.json()["state"] == "ended"
    after = await api(world.server, bob, "POST", f"{path}/legs", {"sdp": OFFER, "pin": "2468"})
    assert (after.status_code, after.json()["error"]["code"]) == (409, "conference_ended")
    relock = await api(world.server, alice, "POST", f"{path}/lock", {"locked": False})
    assert (relock.status_code, relock.json()["error"]["code"]) == (409, "conference_ended")


async def test_the_cli_lists_a_users_conferences_and_their_legs(
    conference_world: ConferenceWorld, subscriber: Make
) -> None:
    world = conference_world
    ctx = world.server.app_context
    alice = await subscriber(online=False)
    conference = (await open_conference(world, alice, alice.e164)).json()
    await service.do_add_leg(
        ctx,
        await service.get_conference(ctx, conference["id"]),
        LegKind.BROWSER,
        user_id=alice.user_id,
        display="Alice",
    )
    listed = await run_cli(ctx, "conferences", "list", alice.username)
    assert listed.exit_code == 0, listed.output
    assert conference["id"] in listed.output and f"{alice.e164}*PIN" in listed.output
    legs = await run_cli(ctx, "conferences", "legs", conference["id"])
    assert legs.exit_code == 0, legs.output
    assert "browser" in legs.output and "in the call" in legs.output
    missing = await run_cli(ctx, "conferences", "legs", "0" * 32)
    assert missing.exit_code == 1
    assert "conference_not_found" in missing.output
