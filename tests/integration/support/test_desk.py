"""The desk end to end on a real server (SQLite and PostgreSQL): a platform's signed visitor
writes from the widget's socket, the agent assigned receives it live on /ws and replies, the
visitor receives the reply; signatures tampered, expired or replayed are refused; assignment
respects presence and capacity, re-assigns an agent's conversations when they go away or
offline, tells waiting visitors their place; transfer with a note; the widget's API answers
only the inbox's origins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import unique
from tests.integration.support.conftest import AgentOnline
from tests.support.desk import SITE, Desk, VisitorSocket, call, error_code, make_desk, ok
from tests.support.inprocess import InProcessServer
from tests.support.server import wait_for
from tests.support.wsclient import WsClient
from yuntong.cluster.nodes import node_of
from yuntong.realtime.connection import hub_of
from yuntong.support.assignment import do_requeue_offline
from yuntong.support.models import Conversation


async def visitor(
    server: InProcessServer, desk: Desk, name: str = "王小明", **attrs: Any
) -> tuple[str, VisitorSocket]:
    """A verified visitor with a widget socket open: their token and socket."""
    ts = int(server.clock.now().timestamp())
    body = await desk.signed(unique("stu"), {"name": name, "role": "student", **attrs}, ts)
    session = ok(await desk.session(body))
    socket = await VisitorSocket(server.ws_url, session["token"]).connect()
    return session["token"], socket


async def told(socket: WsClient, state: str) -> dict[str, Any]:
    """The next ``support.conversation`` that tells the visitor ``state``."""
    while True:
        view: dict[str, Any] = (await socket.expect("support.conversation"))["conversation"]
        if view["state"] == state:
            return view


async def message_from(socket: WsClient, sender: str) -> dict[str, Any]:
    """The next ``support.message`` written by ``sender`` (a visitor hears their own too)."""
    while True:
        got = await socket.expect("support.message")
        if got["message"]["sender"] == sender:
            return got


async def conversation_of(server: InProcessServer, conversation_id: int) -> Conversation:
    async with (await server.context()).db.session() as s:
        found = await s.get(Conversation, conversation_id)
        assert found is not None
        return found


async def test_visitor_writes_agent_receives_live_replies_and_visitor_receives(
    server: InProcessServer, agent_online: AgentOnline
) -> None:
    alice = unique("alice")
    desk = await make_desk(server, alice)
    await desk.add_agent(alice)
    agent, agent_token = await agent_online(alice)
    token, widget = await visitor(server, desk, grade=5)
    assert widget.hello["conversation"] is None

    sent = await widget.request("support.send", {"body": "老师好，作业提交不了", "client_id": "c1"})
    conversation_id = sent["message"]["conversation_id"]
    got = await agent.expect("support.message", conversation_id=conversation_id)
    assert got["message"]["body"] == "老师好，作业提交不了"
    assert got["message"]["sender"] == "visitor"
    await agent.expect("support.conversation", conversation_id=conversation_id, state="assigned")
    assert (await told(widget, "assigned"))["agent"] == alice

    path = f"/api/v1/support/conversations/{conversation_id}/messages"
    ok(await call(server, agent_token, "POST", path, {"body": "请把截图发给我", "client_id": "a1"}))
    answer = await message_from(widget, "agent")
    assert (answer["message"]["sender"], answer["message"]["author"]) == ("agent", alice)
    assert answer["message"]["body"] == "请把截图发给我"

    # a retried message (same client id) is not written twice; the history has both sides
    again = await widget.request(
        "support.send", {"body": "老师好，作业提交不了", "client_id": "c1"}
    )
    assert again["message"]["id"] == sent["message"]["id"]
    history = ok(
        await call(
            server,
            None,
            "GET",
            f"/api/v1/support/widget/{desk.key}/conversation",
            headers={"X-Visitor-Token": token, "Origin": SITE},
        )
    )
    assert [m["body"] for m in history["messages"]] == ["老师好，作业提交不了", "请把截图发给我"]
    detail = ok(
        await call(server, agent_token, "GET", f"/api/v1/support/conversations/{conversation_id}")
    )
    assert detail["visitor"]["verified"] and detail["visitor"]["attributes"]["grade"] == 5
    assert detail["can_reply"] and detail["can_resolve"]

    # resolved, then the visitor writes again: reopened and assigned again
    ok(
        await call(
            server, agent_token, "POST", f"/api/v1/support/conversations/{conversation_id}/resolve"
        )
    )
    await told(widget, "resolved")
    await widget.request("support.send", {"body": "还有一个问题"})
    assert (await conversation_of(server, conversation_id)).state == "assigned"
    await widget.close()


async def test_signatures_tampered_expired_or_replayed_are_refused(server: InProcessServer) -> None:
    desk = await make_desk(server)
    now = int(server.clock.now().timestamp())
    body = await desk.signed("s-1", {"name": "李华"}, now)
    assert ok(await desk.session(body))["token"]
    replayed = await desk.session(body)
    assert (replayed.status_code, error_code(replayed)) == (403, "support_identity_replayed")

    tampered = await desk.signed("s-1", {"name": "李华"}, now)
    tampered["identity"]["attributes"]["name"] = "张三"
    refused = await desk.session(tampered)
    assert (refused.status_code, error_code(refused)) == (403, "support_identity_invalid")

    copied = await desk.signed("s-1", {"name": "李华"}, now + 1)
    await server.advance(301)  # a copied signature is useless a few minutes later
    expired = await desk.session(copied)
    assert (expired.status_code, error_code(expired)) == (403, "support_identity_expired")

    anonymous = await desk.session({"prechat": {"name": "游客"}})
    assert error_code(anonymous) == "support_identity_required"


async def test_the_widget_api_answers_the_inboxs_origins_only(server: InProcessServer) -> None:
    desk = await make_desk(server, allow_anonymous=True)
    path = f"/api/v1/support/widget/{desk.key}/session"
    headers = {"Origin": SITE, "Access-Control-Request-Method": "POST"}
    preflight = await call(server, None, "OPTIONS", path, headers=headers)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    assert "x-visitor-token" in preflight.headers["access-control-allow-headers"]
    session = await desk.session({"prechat": {"name": "游客"}})
    assert session.headers["access-control-allow-origin"] == SITE
    assert session.json()["state"]["conversation"] is None

    other = await desk.session({"prechat": {"name": "游客"}}, origin="https://evil.example")
    assert (other.status_code, error_code(other)) == (403, "support_origin_refused")
    assert "access-control-allow-origin" not in other.headers
    # the socket too: a page of another origin is refused
    socket = await VisitorSocket(
        server.ws_url, session.json()["token"], "https://evil.example"
    ).connect()
    assert socket.hello["code"] == "support_origin_refused"


async def test_assignment_respects_presence_and_capacity_and_reassigns_when_away(
    server: InProcessServer, agent_online: AgentOnline
) -> None:
    alice, bob, carol, dave = (unique(n) for n in ("alice", "bob", "carol", "dave"))
    desk = await make_desk(server, alice, bob, carol, dave)
    for name in (alice, bob, carol, dave):
        await desk.add_agent(name, capacity=1)
    agent_a, token_a = await agent_online(alice)
    agent_b, token_b = await agent_online(bob)
    await agent_online(dave, status="away")
    carol_token = await server.login(carol)  # chose online, but has no socket: offline
    ok(await call(server, carol_token, "PUT", "/api/v1/support/me/status", {"status": "online"}))

    widgets = [await visitor(server, desk, name=f"v{i}") for i in range(3)]
    ids = []
    for _token, widget in widgets:
        ids.append(
            (await widget.request("support.send", {"body": "hi"}))["message"]["conversation_id"]
        )
    first, second, third = [await conversation_of(server, i) for i in ids]
    assert {first.agent_id, second.agent_id} == {desk.members[alice], desk.members[bob]}
    assert third.state == "open"  # both are at capacity; carol is offline, dave away
    waiting = await told(widgets[2][1], "open")
    assert waiting["queue"]["position"] == 1
    assert waiting["queue"]["agents_online"] == 2
    assert waiting["queue"]["wait_s"] > 0

    # alice goes away: her conversation goes back, first in line; nobody is free
    alices = first if first.agent_id == desk.members[alice] else second
    bobs = second if alices is first else first
    ok(await call(server, token_a, "PUT", "/api/v1/support/me/status", {"status": "away"}))
    assert (await conversation_of(server, alices.id)).state == "open"
    # bob resolves his: alice's old conversation (waiting longer) is his next
    ok(await call(server, token_b, "POST", f"/api/v1/support/conversations/{bobs.id}/resolve"))
    assert (await conversation_of(server, alices.id)).agent_id == desk.members[bob]
    assert (await conversation_of(server, third.id)).state == "open"
    # bob's socket closes (he leaves): his conversations go back; alice online again takes one
    await agent_b.close()

    async def back_in_queue() -> bool:
        return (await conversation_of(server, alices.id)).state == "open"

    await wait_for(back_in_queue)
    ok(await call(server, token_a, "PUT", "/api/v1/support/me/status", {"status": "online"}))
    taken = [await conversation_of(server, i) for i in (alices.id, third.id)]
    assert [c.agent_id for c in taken] == [desk.members[alice], None]
    for _token, widget in widgets:
        await widget.close()
    await agent_a.close()


async def test_transfer_with_a_note_to_an_agent_who_is_there(
    server: InProcessServer, agent_online: AgentOnline
) -> None:
    alice, bob, dave = unique("alice"), unique("bob"), unique("dave")
    desk = await make_desk(server, alice, bob, dave)
    for name in (alice, bob, dave):
        await desk.add_agent(name)
    _a, token_a = await agent_online(alice)
    _d, _token_d = await agent_online(dave, status="away")
    _token, widget = await visitor(server, desk)
    conversation_id = (await widget.request("support.send", {"body": "退费咨询"}))["message"][
        "conversation_id"
    ]
    agent_b, token_b = await agent_online(bob, status="busy")  # keeps his, takes none new
    assert (await conversation_of(server, conversation_id)).agent_id == desk.members[alice]

    path = f"/api/v1/support/conversations/{conversation_id}/transfer"
    refused = await call(server, token_a, "POST", path, {"to_user_id": desk.members[dave]})
    assert error_code(refused) == "support_agent_unavailable"
    moved = ok(
        await call(
            server,
            token_a,
            "POST",
            path,
            {"to_user_id": desk.members[bob], "note": "退费请走财务流程"},
        )
    )
    assert moved["agent_id"] == desk.members[bob]
    assert moved["events"][-1]["action"] == "transfer"
    assert moved["events"][-1]["note"] == "退费请走财务流程"
    told = await agent_b.expect("support.transferred", conversation_id=conversation_id)
    assert told["note"] == "退费请走财务流程"
    again = await call(
        server,
        token_a,
        "POST",
        f"/api/v1/support/conversations/{conversation_id}/messages",
        {"body": "x"},
    )
    assert error_code(again) == "support_not_your_conversation"
    ok(
        await call(
            server,
            token_b,
            "POST",
            f"/api/v1/support/conversations/{conversation_id}/messages",
            {"body": "您好"},
        )
    )
    assert (await message_from(widget, "agent"))["message"]["author"] == bob
    await widget.close()


async def test_the_dead_node_sweep_gives_away_conversations_of_agents_no_node_saw_leave(
    server: InProcessServer, agent_online: AgentOnline
) -> None:
    alice, bob = unique("alice"), unique("bob")
    desk = await make_desk(server, alice, bob)
    await desk.add_agent(alice)
    await agent_online(alice, status="busy")
    _token, widget = await visitor(server, desk)
    conversation_id = (await widget.request("support.send", {"body": "在吗"}))["message"][
        "conversation_id"
    ]
    # alice's node died (or the server restarted and she never came back): nobody saw her go
    ctx = await server.context()
    async with ctx.db.session() as s:
        row = await s.get(Conversation, conversation_id)
        assert row is not None
        row.state, row.agent_id = "assigned", desk.members[alice]
    await desk.add_agent(bob)
    await agent_online(bob)
    app = server.app_context
    assert await do_requeue_offline(app, at_start=False) == 0  # alice is still connected
    await hub_of(app).disconnect_user(desk.members[alice], code=4000)  # gone, listeners told
    async with ctx.db.session() as s:  # ... but suppose no node told the desk
        row = await s.get(Conversation, conversation_id)
        assert row is not None
        row.state, row.agent_id = "assigned", desk.members[alice]
    assert await do_requeue_offline(app, at_start=True) == 0  # at start-up agents reconnect
    node_of(app).started_at = node_of(app).clock.now() - timedelta(minutes=5)
    await server.advance(app.settings.reconnect_grace_s + 1)
    assert await do_requeue_offline(app, at_start=False) == 1
    assert (await conversation_of(server, conversation_id)).agent_id == desk.members[bob]
    await widget.close()
