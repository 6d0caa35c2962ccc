"""Do-not-disturb schedules (quiet hours) through the API of a real server, on SQLite and
PostgreSQL, on a clock the tests move: a call inside a window ends busy (dnd) — or forwards on
busy — and rings outside it; contacts see the presence change when a window starts and ends;
switching off inside a window lasts until it ends; workdays follow the official calendar with
its make-up working days; the CLI changes what the running server applies.

The tests share one server and clock, moved forward from test to test (conftest.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.integration.accounts.conftest import run_cli
from tests.integration.presence.conftest import beijing, move_to
from tests.integration.supplementary.conftest import Make, Subscriber, api, set_services
from tests.support.inprocess import InProcessServer
from tests.support.server import wait_for
from tests.support.wsclient import FAKE_SDP

NIGHT = {"name": "Night", "days": "workdays", "start": "22:00", "end": "07:30"}


def moment(text: str | None) -> datetime | None:
    """A moment the API gave (ISO 8601, UTC)."""
    return None if text is None else datetime.fromisoformat(text)


async def add_schedule(server: InProcessServer, who: Subscriber, **body: Any) -> dict[str, Any]:
    resp = await api(server, who, "POST", "/presence/dnd/schedules", body)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


async def dnd_state(server: InProcessServer, who: Subscriber) -> dict[str, Any]:
    resp = await api(server, who, "GET", "/presence/dnd")
    assert resp.status_code == 200, resp.text
    state: dict[str, Any] = resp.json()
    return state


async def call(caller: Subscriber, callee: Subscriber) -> dict[str, Any]:
    ack: dict[str, Any] = await caller.client.request(
        "call.invite", {"to": callee.number, "media": "audio", "sdp": FAKE_SDP}
    )
    return ack


async def rings(caller: Subscriber, callee: Subscriber) -> None:
    """A call from ``caller`` rings ``callee``; the caller hangs up."""
    ack = await call(caller, callee)
    assert "ended" not in ack, ack
    await callee.client.expect("call.incoming", call_id=ack["call_id"])
    await caller.client.request("call.cancel", {"call_id": ack["call_id"]})
    await callee.client.expect("call.ended", call_id=ack["call_id"])


async def turned_away(caller: Subscriber, callee: Subscriber) -> None:
    ack = await call(caller, callee)
    assert (ack["ended"]["outcome"], ack["ended"]["reason"]) == ("busy", "dnd"), ack
    assert not callee.client.has("call.incoming", call_id=ack["call_id"])


async def watching(server: InProcessServer, watcher: Subscriber, watched: Subscriber) -> None:
    """``watcher`` keeps ``watched`` in their contacts (and so sees their presence)."""
    resp = await api(server, watcher, "POST", "/contacts", {"query": watched.username})
    assert resp.status_code == 201, resp.text


async def test_schedules_are_a_paid_service_and_switching_dnd_stays_free(
    server: InProcessServer, subscriber: Make
) -> None:
    """Without scheduled DND (vas_dnd_schedule) ordered a schedule is refused, in both
    languages, and the services say it is not ordered; do-not-disturb is still switched on
    and off. Once ordered, schedules are added."""
    bob = await subscriber()
    state = await dnd_state(server, bob)
    assert (state["ordered"], state["can_add"]) == (False, False)
    refused = await api(server, bob, "POST", "/presence/dnd/schedules", NIGHT)
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "service_not_ordered",
        "message": "You have not ordered this service (dnd_schedule); order it first",
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        zh = await http.post(
            "/api/v1/presence/dnd/schedules",
            json=NIGHT,
            headers={"Authorization": f"Bearer {bob.token}", "Accept-Language": "zh-CN"},
        )
    assert zh.status_code == 403
    assert zh.json()["error"]["code"] == "service_not_ordered"
    assert "dnd_schedule" in zh.json()["error"]["message"]
    assert "dnd_schedule" not in (await api(server, bob, "GET", "/services")).json()["ordered"]
    assert (await dnd_state(server, bob))["schedules"] == []
    for on in (True, False):  # the switch is free
        switched = await api(server, bob, "PUT", "/presence/dnd", {"on": on})
        assert switched.status_code == 200, switched.text
        assert switched.json()["on"] is on

    ctx = server.app_context
    by_cli = await run_cli(
        ctx, "services", "dnd", "add", bob.username, "--days", "every_day",
        "--from", "12:00", "--to", "13:00",
    )  # fmt: skip
    assert by_cli.exit_code == 1 and "service_not_ordered" in by_cli.output
    shown = await run_cli(ctx, "services", "dnd", "show", bob.username)
    assert "schedules: not ordered (product vas_dnd_schedule)" in shown.output

    ordered = await subscriber("dnd_schedule")
    assert "dnd_schedule" in (await api(server, ordered, "GET", "/services")).json()["ordered"]
    listed = await run_cli(ctx, "services", "show", ordered.username)
    assert "ordered: dnd_schedule" in listed.output
    await add_schedule(server, ordered, **NIGHT)
    state = await dnd_state(server, ordered)
    assert (state["ordered"], state["can_add"], len(state["schedules"])) == (True, True, 1)


async def test_schedules_are_added_listed_changed_and_deleted(
    server: InProcessServer, subscriber: Make
) -> None:
    bob = await subscriber("dnd_schedule")
    carol = await subscriber()
    created = await add_schedule(server, bob, **NIGHT)
    assert created == {
        "id": created["id"],
        "name": "Night",
        "days": "workdays",
        "weekdays": [],
        "start": "22:00",
        "end": "07:30",
        "enabled": True,
        "overnight": True,
        "whole_day": False,
    }
    lunch = await add_schedule(
        server, bob, days="weekdays", weekdays=[6, 7], start="12:00", end="14:00"
    )
    listed = (await api(server, bob, "GET", "/presence/dnd/schedules")).json()
    assert [s["id"] for s in listed] == [created["id"], lunch["id"]]

    changed = await api(
        server,
        bob,
        "PUT",
        f"/presence/dnd/schedules/{lunch['id']}",
        {"days": "rest_days", "start": "13:00", "end": "13:00", "enabled": False},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["days"], changed.json()["whole_day"]) == ("rest_days", True)
    assert changed.json()["enabled"] is False

    # another user's schedule is not found, to change or to delete
    for method, body in (("PUT", NIGHT), ("DELETE", None)):
        resp = await api(server, carol, method, f"/presence/dnd/schedules/{lunch['id']}", body)
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "dnd_schedule_not_found"
    deleted = await api(server, bob, "DELETE", f"/presence/dnd/schedules/{lunch['id']}")
    assert deleted.status_code == 204
    state = await dnd_state(server, bob)
    assert [s["id"] for s in state["schedules"]] == [created["id"]]
    assert (state["timezone"], state["max_schedules"], state["can_add"]) == (
        "Asia/Shanghai",
        10,
        True,
    )


async def test_at_most_ten_schedules_and_wrong_ones_are_refused_in_both_languages(
    server: InProcessServer, subscriber: Make
) -> None:
    bob = await subscriber("dnd_schedule")
    for hour in range(10):
        await add_schedule(server, bob, days="every_day", start=f"{hour:02d}:00", end="23:00")
    assert (await dnd_state(server, bob))["can_add"] is False
    refused = await api(server, bob, "POST", "/presence/dnd/schedules", NIGHT)
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "dnd_schedule_limit",
        "message": "You can have at most 10 do-not-disturb schedules",
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        wrong = await http.post(
            "/api/v1/presence/dnd/schedules",
            json={**NIGHT, "end": "7.30"},
            headers={"Authorization": f"Bearer {bob.token}", "Accept-Language": "zh-CN"},
        )
    assert wrong.status_code == 422
    error = wrong.json()["error"]
    assert error["code"] == "dnd_schedule_time_invalid"
    assert error["message"] == "时间须为 00:00–23:59 之间的“时:分”"
    assert "end" in error["fields"]
    weekdays = await api(
        server, bob, "POST", "/presence/dnd/schedules", {**NIGHT, "days": "weekdays"}
    )
    assert weekdays.json()["error"]["code"] == "dnd_schedule_weekdays_invalid"


async def test_a_call_inside_a_window_ends_busy_and_contacts_see_the_window_start_and_end(
    server: InProcessServer, subscriber: Make
) -> None:
    await move_to(server, "2026-01-12 21:58")  # a Monday, a workday
    alice = await subscriber()
    bob = await subscriber("dnd_schedule")
    await watching(server, alice, bob)
    await add_schedule(server, bob, **NIGHT)
    state = await dnd_state(server, bob)
    assert (state["on"], state["reason"]) == (False, None)
    assert moment(state["next_start"]) == beijing("2026-01-12 22:00")
    await rings(alice, bob)

    alice.client.events.clear()
    bob.client.events.clear()
    await server.advance(3 * 60)  # 22:01
    await alice.client.expect("presence", user_id=bob.user_id, status="dnd")
    own = await bob.client.expect("presence.dnd", on=True)
    assert own["reason"] == "schedule"
    assert moment(own["until"]) == beijing("2026-01-13 07:30")
    state = await dnd_state(server, bob)
    assert (state["on"], state["reason"], state["manual"]) == (True, "schedule", False)
    assert moment(state["until"]) == beijing("2026-01-13 07:30")
    await turned_away(alice, bob)

    alice.client.events.clear()
    bob.client.events.clear()
    await move_to(server, "2026-01-13 07:31")
    await alice.client.expect("presence", user_id=bob.user_id, status="online")
    await bob.client.expect("presence.dnd", on=False)
    await rings(alice, bob)


async def test_switching_off_inside_a_window_lasts_until_it_ends(
    server: InProcessServer, subscriber: Make
) -> None:
    await move_to(server, "2026-01-13 22:05")  # a Tuesday evening: in the window
    alice = await subscriber()
    bob = await subscriber("dnd_schedule")
    await add_schedule(server, bob, **NIGHT)
    await turned_away(alice, bob)
    switched = await api(server, bob, "PUT", "/presence/dnd", {"on": False})
    assert switched.status_code == 200, switched.text
    state = switched.json()
    assert state["on"] is False
    assert moment(state["paused_until"]) == beijing("2026-01-14 07:30")
    assert moment(state["next_start"]) == beijing("2026-01-14 22:00")
    await rings(alice, bob)

    await move_to(server, "2026-01-14 22:01")  # the next window applies again
    await turned_away(alice, bob)
    # switched on by hand: on until switched off, whatever the windows
    assert (await bob.client.request("presence.set", {"status": "dnd"}))["status"] == "dnd"
    await move_to(server, "2026-01-15 08:00")
    state = await dnd_state(server, bob)
    assert (state["on"], state["reason"], state["until"]) == (True, "manual", None)
    await turned_away(alice, bob)
    assert (await bob.client.request("presence.set", {"status": "online"}))["status"] == "online"
    await rings(alice, bob)


async def test_a_callee_in_a_window_with_forwarding_on_busy_forwards(
    server: InProcessServer, subscriber: Make
) -> None:
    await move_to(server, "2026-01-15 12:10")
    alice = await subscriber()
    bob = await subscriber("forwarding", "dnd_schedule")
    carol = await subscriber()
    await set_services(server, bob, cfb=carol.number)
    await add_schedule(server, bob, days="every_day", start="12:00", end="13:00")
    ack = await call(alice, bob)
    incoming = await carol.client.expect("call.incoming", call_id=ack["call_id"])
    assert (incoming["forwarding"], incoming["forwarded_by"]) == ("cfb", bob.e164)
    assert not bob.client.has("call.incoming", call_id=ack["call_id"])
    await alice.client.request("call.cancel", {"call_id": ack["call_id"]})


async def test_workdays_follow_the_official_calendar_with_its_make_up_working_days(
    server: InProcessServer, subscriber: Make
) -> None:
    await move_to(server, "2026-02-07 22:30")  # an ordinary Saturday: no window
    alice = await subscriber()
    bob = await subscriber("dnd_schedule")
    await add_schedule(server, bob, **NIGHT)
    await rings(alice, bob)
    await move_to(server, "2026-02-14 22:30")  # a Saturday worked for the Spring Festival
    await turned_away(alice, bob)
    await move_to(server, "2026-02-17 22:30")  # Spring Festival holiday, a Tuesday
    await rings(alice, bob)


async def test_the_cli_shows_and_changes_what_the_running_server_applies(
    server: InProcessServer, subscriber: Make
) -> None:
    ctx = server.app_context
    alice = await subscriber()
    bob = await subscriber("dnd_schedule")
    await watching(server, alice, bob)
    added = await run_cli(
        ctx, "services", "dnd", "add", bob.username, "--days", "weekdays", "--weekdays",
        "1,3", "--from", "23:00", "--to", "06:00", "--name", "Late",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Late" in added.output and "06:00 (+1 day)" in added.output
    refused = await run_cli(
        ctx, "services", "dnd", "add", bob.username, "--days", "weekdays",
        "--from", "23:00", "--to", "06:00",
    )  # fmt: skip
    assert refused.exit_code == 1 and "dnd_schedule_weekdays_invalid" in refused.output

    switched = await run_cli(ctx, "services", "dnd", "switch", bob.username, "on")
    assert switched.exit_code == 0, switched.output
    assert "do-not-disturb: on (switched on)" in switched.output
    # the server hears it through the change feed: contacts see it, calls are turned away
    await alice.client.expect("presence", user_id=bob.user_id, status="dnd")
    await wait_for(lambda: bob.client.has("presence.dnd", on=True))
    await turned_away(alice, bob)
    shown = await run_cli(ctx, "services", "dnd", "show", bob.username)
    assert "switch: on" in shown.output and "1,3" in shown.output
