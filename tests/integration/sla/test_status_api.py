"""The status page over HTTP: staff open an incident and update it through the REST API, anyone
reads the summary, the page, the Atom feed and subscribes without logging in; refusals come as
stable error codes; and ``yuntong status`` does the same from the terminal."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.integration.accounts.conftest import bearer, error_code, run_cli, web_login
from tests.integration.sla.conftest import beijing, move_to
from tests.support import smtp
from tests.support.smtp import SmtpSink
from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.sla.models import StatusComponent, StatusSubscriber
from yuntong.sla.subscriptions import unsubscribe_token

smtp_sink = smtp.smtp_sink
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def settings_overrides(smtp_sink: SmtpSink) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": smtp_sink.port}


async def test_staff_run_an_incident_and_the_public_reads_it(
    ctx: Context,
    app_client: httpx.AsyncClient,
    operator: Principal,
    components: dict[str, StatusComponent],
) -> None:
    c = components
    move_to(ctx, beijing(2026, 6, 10, 9))
    staff = await bearer(app_client, operator.username)
    opened = await app_client.post(
        "/api/v1/status/incidents",
        headers=staff,
        json={
            "title_zh": "会议无法加入",
            "title_en": "Meetings cannot be joined",
            "message_zh": "正在调查。",
            "message_en": "We are investigating.",
            "impacts": {str(c["meet"].id): "partial_outage"},
        },
    )
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    assert incident["status"] == "investigating" and incident["ends_at"] is None

    public = (await app_client.get("/api/v1/status")).json()
    assert public["state"] == "partial_outage"
    meet = next(x for x in public["components"] if x["key"] == "meet")
    assert meet["state"] == "partial_outage" and len(meet["days"]) == 90
    assert meet["days"][-1] == {"day": "2026-06-10", "state": "partial_outage"}
    assert [i["title_en"] for i in public["incidents"]] == ["Meetings cannot be joined"]

    page = await app_client.get("/status", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Partial system outage" in page.text and "Meetings cannot be joined" in page.text
    assert 'data-key="meet" data-state="partial_outage"' in page.text
    app_client.cookies.set("yt_locale", "zh-CN")
    zh = await app_client.get("/status")
    assert "部分系统中断" in zh.text and "会议无法加入" in zh.text
    app_client.cookies.clear()

    resolved = await app_client.post(
        f"/api/v1/status/incidents/{incident['id']}/updates",
        headers=staff,
        json={"status": "resolved", "message_zh": "已恢复。", "message_en": "Resolved."},
    )
    assert resolved.status_code == 201, resolved.text
    assert [u["status"] for u in resolved.json()["updates"]] == ["resolved", "investigating"]
    assert (await app_client.get("/api/v1/status")).json()["state"] == "operational"

    feed = await app_client.get("/status/feed.atom?lang=en")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(feed.content).iter(f"{ATOM}entry")]
    assert titles == [
        "[Resolved] Meetings cannot be joined",
        "[Investigating] Meetings cannot be joined",
    ]

    admin = (await app_client.get("/api/v1/status/admin", headers=staff)).json()
    assert admin["subscribers"] == 0


async def test_refusals_have_stable_codes(
    ctx: Context,
    app_client: httpx.AsyncClient,
    operator: Principal,
    components: dict[str, StatusComponent],
) -> None:
    staff = await bearer(app_client, operator.username)
    anonymous = await app_client.post(
        "/api/v1/status/incidents",
        json={
            "title_zh": "x",
            "title_en": "x",
            "message_zh": "x",
            "message_en": "x",
            "impacts": {"1": "degraded"},
        },
    )
    assert anonymous.status_code == 401
    bad_impact = await app_client.post(
        "/api/v1/status/incidents",
        headers=staff,
        json={
            "title_zh": "x",
            "title_en": "x",
            "message_zh": "x",
            "message_en": "x",
            "impacts": {str(components["web"].id): "on_fire"},
        },
    )
    assert bad_impact.status_code == 422 and error_code(bad_impact) == "validation_failed"
    missing = await app_client.post(
        "/api/v1/status/incidents/999999/updates",
        headers=staff,
        json={"status": "monitoring", "message_zh": "x", "message_en": "x"},
    )
    assert missing.status_code == 404 and error_code(missing) == "incident_not_found"
    taken = await app_client.post(
        "/api/v1/status/components",
        headers=staff,
        json={"key": "web", "name_zh": "网站", "name_en": "Web"},
    )
    assert taken.status_code == 409 and error_code(taken) == "status_component_taken"
    backwards = await app_client.post(
        "/api/v1/status/maintenance",
        headers=staff,
        json={
            "title_zh": "x",
            "title_en": "x",
            "description_zh": "x",
            "description_en": "x",
            "starts_at": "2026-07-02T10:00:00+08:00",
            "ends_at": "2026-07-01T10:00:00+08:00",
            "component_ids": [components["web"].id],
        },
    )
    assert backwards.status_code == 422 and backwards.json()["error"]["fields"] == {
        "ends_at": {
            "code": "invalid",
            "message": backwards.json()["error"]["fields"]["ends_at"]["message"],
        }
    }
    bad_token = await app_client.post(
        "/api/v1/status/subscriptions/confirm", json={"token": "nope"}
    )
    assert bad_token.status_code == 404 and error_code(bad_token) == "status_token_invalid"
    bad_email = await app_client.post(
        "/api/v1/status/subscriptions", json={"email": "no-at-sign", "locale": "en"}
    )
    assert error_code(bad_email) == "validation_failed"
    for n in range(5):
        ok = await app_client.post(
            "/api/v1/status/subscriptions", json={"email": f"v{n}@example.com", "locale": "en"}
        )
        assert ok.status_code == 202, ok.text
    held = await app_client.post(
        "/api/v1/status/subscriptions", json={"email": "v9@example.com", "locale": "en"}
    )
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0


async def test_the_cli_opens_updates_resolves_and_schedules(
    ctx: Context, operator: Principal, components: dict[str, StatusComponent]
) -> None:
    opened = await run_cli(
        ctx,
        "status",
        "incident",
        "open",
        "--title-zh",
        "云电话呼叫失败",
        "--title-en",
        "Cloud phone calls failing",
        "--message-zh",
        "调查中",
        "--message-en",
        "Investigating",
        "--impact",
        "video=major_outage",
        "--as",
        operator.username,
    )
    assert opened.exit_code == 0, opened.output
    incident_id = opened.output.split()[1]
    listed = await run_cli(ctx, "status", "list")
    assert "overall: major_outage" in listed.output
    assert "Cloud phone calls failing" in listed.output
    updated = await run_cli(
        ctx,
        "status",
        "incident",
        "update",
        incident_id,
        "--status",
        "monitoring",
        "--message-zh",
        "监控中",
        "--message-en",
        "Monitoring",
    )
    assert updated.exit_code == 0 and f"incident {incident_id}: monitoring" in updated.output
    resolved = await run_cli(
        ctx,
        "status",
        "incident",
        "resolve",
        incident_id,
        "--message-zh",
        "好",
        "--message-en",
        "ok",
    )
    assert f"incident {incident_id}: resolved" in resolved.output
    again = await run_cli(
        ctx,
        "status",
        "incident",
        "resolve",
        incident_id,
        "--message-zh",
        "好",
        "--message-en",
        "ok",
    )
    assert again.exit_code == 1 and "status_incident_resolved" in again.output

    scheduled = await run_cli(
        ctx,
        "status",
        "maintenance",
        "schedule",
        "--title-zh",
        "升级",
        "--title-en",
        "Upgrade",
        "--description-zh",
        "升级",
        "--description-en",
        "Upgrade",
        "--start",
        "2099-01-01T01:00",
        "--end",
        "2099-01-01T03:00",
        "--component",
        "web",
    )
    assert scheduled.exit_code == 0, scheduled.output
    listed = await run_cli(ctx, "status", "list")
    assert "overall: operational" in listed.output and "scheduled" in listed.output
    unknown = await run_cli(ctx, "status", "component", "set", "nope", "degraded")
    assert unknown.exit_code == 1 and "status_component_not_found" in unknown.output
    defaults = await run_cli(ctx, "status", "component", "defaults")
    assert defaults.exit_code == 0, defaults.output  # "web" is there already
    assert "4 components added: video-calls, meetings, cloud-phone, support-desk" in defaults.output
    again = await run_cli(ctx, "status", "component", "defaults")
    assert again.exit_code == 0 and "0 components added: none" in again.output
    mailed = await run_cli(ctx, "status", "mail")
    assert mailed.exit_code == 0 and "0 e-mails sent" in mailed.output
    added = await run_cli(
        ctx, "status", "component", "add", "phone", "--zh", "云电话", "--en", "Cloud phone"
    )
    assert added.exit_code == 0 and "component phone" in added.output


async def test_a_visitor_subscribes_confirms_and_leaves_by_one_click(
    ctx: Context,
    app_client: httpx.AsyncClient,
    smtp_sink: SmtpSink,
    operator: Principal,
    components: dict[str, StatusComponent],
) -> None:
    move_to(ctx, beijing(2026, 6, 10, 9))
    sent = await app_client.post(
        "/api/v1/status/subscriptions", json={"email": "fan@example.com", "locale": "en"}
    )
    assert sent.status_code == 202
    [confirm] = await smtp_sink.wait_for(1)
    text = confirm.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = next(w for w in text.split() if "/status/confirm?token=" in w)
    path = link[link.index("/status/") :]
    page = await app_client.get(path)
    assert page.status_code == 200 and 'id="status-link-button"' in page.text
    token = path.split("token=")[1]
    confirmed = await app_client.post("/api/v1/status/subscriptions/confirm", json={"token": token})
    assert confirmed.status_code == 200
    staff = await bearer(app_client, operator.username)
    admin = (await app_client.get("/api/v1/status/admin", headers=staff)).json()
    assert admin["subscribers"] == 1

    async with ctx.db.session() as s:
        sub = (await s.execute(select(StatusSubscriber))).scalar_one()
    one_click = await app_client.post(
        f"/status/unsubscribe?token={unsubscribe_token(ctx, sub.id)}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert (await app_client.get("/api/v1/status/admin", headers=staff)).json()["subscribers"] == 0
    forged = await app_client.post("/status/unsubscribe?token=1.abc")
    assert forged.status_code == 404


async def test_signed_in_staff_see_the_page_in_the_shell_with_a_way_to_manage_it(
    app_client: httpx.AsyncClient, operator: Principal, components: dict[str, StatusComponent]
) -> None:
    visitor = await app_client.get("/status")
    assert 'id="status-manage"' not in visitor.text and "csrf-token" not in visitor.text
    await web_login(app_client, operator.username)
    staff = await app_client.get("/status")
    assert 'id="status-manage"' in staff.text and 'name="csrf-token"' in staff.text
    manage = await app_client.get("/operator/status")
    assert manage.status_code == 200 and 'id="incident-form"' in manage.text
    assert "Web &amp; API" in manage.text or "网站与 API" in manage.text
