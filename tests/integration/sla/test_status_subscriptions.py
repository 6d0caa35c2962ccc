"""E-mail subscription to the status page through a real SMTP server (aiosmtpd), on SQLite and
PostgreSQL: a visitor subscribes, confirms by the link (double opt-in), receives one e-mail per
incident update and maintenance notice — one only, even with two senders at once — and leaves
by the link every e-mail carries; subscribing is throttled."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.integration.sla.conftest import beijing, move_to, schedule
from tests.support import smtp
from tests.support.smtp import SmtpSink
from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.services import build_context
from yuntong.sla import status, subscriptions
from yuntong.sla.models import StatusComponent, StatusMail, StatusSubscriber

smtp_sink = smtp.smtp_sink  # the fixture, under its own name


@pytest.fixture
def settings_overrides(smtp_sink: SmtpSink) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_sink.port,
        "mail_from": "云通状态 <status@yuntong.example>",
        "public_url": "https://yuntong.example",
    }


def link_in(message: EmailMessage, path: str) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(rf"https://yuntong\.example{path}\?token=(\S+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


async def subscribed(ctx: Context, sink: SmtpSink, address: str, locale: str = "en") -> str:
    """Subscribe and confirm ``address``; the confirmation e-mail's token."""
    before = len(sink.messages)
    await subscriptions.do_subscribe(ctx, address, locale, f"client-{address}")
    confirm = (await sink.wait_for(before + 1))[-1]
    token = link_in(confirm, "/status/confirm")
    await subscriptions.do_confirm(ctx, token, "client")
    return token


async def test_double_opt_in_then_an_email_per_update_with_an_unsubscribe_link(
    ctx: Context, smtp_sink: SmtpSink, operator: Principal, components: dict[str, StatusComponent]
) -> None:
    move_to(ctx, beijing(2026, 6, 10, 8))
    await subscriptions.do_subscribe(ctx, "Li@Example.com ", "zh-CN", "203.0.113.5")
    [confirm] = await smtp_sink.wait_for(1)
    assert smtp_sink.envelope_recipients == [["li@example.com"]]
    assert confirm["Subject"] == "请确认订阅云通服务状态"
    token = link_in(confirm, "/status/confirm")
    async with ctx.db.session() as s:
        sub = (await s.execute(select(StatusSubscriber))).scalar_one()
        assert sub.confirm_hash == subscriptions.token_hash(token) != token  # only the hash
        assert "li@example.com" not in sub.email_enc  # sealed

    # not confirmed yet: an update reaches nobody
    opened = await status.do_open_incident(
        ctx,
        operator,
        title_zh="视频通话失败",
        title_en="Video calls failing",
        impacts={components["video"].id: "major_outage"},
        message_zh="正在调查。",
        message_en="Investigating.",
    )
    assert await subscriptions.do_send_pending(ctx) == 0

    await subscriptions.do_confirm(ctx, token, "203.0.113.5")
    with pytest.raises(YuntongError) as used:  # the token works once
        await subscriptions.do_confirm(ctx, token, "203.0.113.5")
    assert used.value.code == "status_token_invalid"

    await status.do_post_update(
        ctx,
        operator,
        opened.incident.id,
        status="identified",
        message_zh="TURN 服务器故障，正在切换。",
        message_en="A TURN server failed.",
    )
    assert await subscriptions.do_send_pending(ctx) == 1
    assert await subscriptions.do_send_pending(ctx) == 0  # sent once
    update = (await smtp_sink.wait_for(2))[1]
    assert update["Subject"] == "[已确定原因] 视频通话失败"
    body = update.get_body(("plain",))
    assert body is not None and "TURN 服务器故障，正在切换。" in body.get_content()
    assert "影响范围：视频通话" in body.get_content()
    unsubscribe = link_in(update, "/status/unsubscribe")
    assert update["List-Unsubscribe"] == (
        f"<https://yuntong.example/status/unsubscribe?token={unsubscribe}>"
    )
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    await subscriptions.do_unsubscribe(ctx, unsubscribe)
    await subscriptions.do_unsubscribe(ctx, unsubscribe)  # idempotent
    await status.do_post_update(
        ctx, operator, opened.incident.id, status="resolved", message_zh="好", message_en="ok"
    )
    assert await subscriptions.do_send_pending(ctx) == 0
    assert len(smtp_sink.messages) == 2
    with pytest.raises(YuntongError) as forged:
        await subscriptions.do_unsubscribe(ctx, unsubscribe[:-1] + "0")
    assert forged.value.code == "status_token_invalid"


async def test_maintenance_notices_reach_each_subscriber_once_with_two_senders_at_once(
    ctx: Context, smtp_sink: SmtpSink, operator: Principal, components: dict[str, StatusComponent]
) -> None:
    for address in ("a@example.com", "b@example.com", "c@example.com"):
        await subscribed(ctx, smtp_sink, address)
    move_to(ctx, beijing(2026, 6, 1, 12))
    m = await schedule(
        ctx,
        operator,
        beijing(2026, 6, 3, 1),
        beijing(2026, 6, 3, 3),
        [components["web"].id],
        ("数据库升级", "Database upgrade"),
        ("升级。", "PostgreSQL 17."),
    )

    other_node = build_context(ctx.settings, clock=ctx.clock)  # its own engine and pool
    try:
        sent = await asyncio.gather(
            subscriptions.do_send_pending(ctx), subscriptions.do_send_pending(other_node)
        )
    finally:
        await other_node.db.dispose()
    assert sum(sent) == 3
    notices = (await smtp_sink.wait_for(6))[3:]
    assert sorted(r[0] for r in smtp_sink.envelope_recipients[3:]) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert {n["Subject"] for n in notices} == {"[Scheduled maintenance] Database upgrade"}
    body = notices[0].get_body(("plain",))
    assert body is not None and "2026-06-03 01:00 to 2026-06-03 03:00" in body.get_content()

    await status.do_cancel_maintenance(ctx, operator, m.id)
    await subscriptions.do_send_on_pass(ctx)  # the worker's pass, under the job lease
    assert (await smtp_sink.wait_for(9))[-1][
        "Subject"
    ] == "[Maintenance cancelled] Database upgrade"
    async with ctx.db.session() as s:
        keys = sorted((await s.execute(select(StatusMail.key))).scalars())
    assert keys == [f"maintenance:{m.id}:cancelled"] * 3 + [f"maintenance:{m.id}:scheduled"] * 3


async def test_a_refused_address_is_retried_later_and_does_not_stop_the_others(
    ctx: Context, smtp_sink: SmtpSink, operator: Principal, components: dict[str, StatusComponent]
) -> None:
    await subscribed(ctx, smtp_sink, "a@example.com")
    await subscribed(ctx, smtp_sink, "b@example.com")
    smtp_sink.refused.add("a@example.com")
    move_to(ctx, beijing(2026, 6, 10, 9))
    await status.do_open_incident(
        ctx,
        operator,
        title_zh="慢",
        title_en="Slow",
        impacts={components["web"].id: "degraded"},
        message_zh="慢",
        message_en="Slow",
    )
    assert await subscriptions.do_send_pending(ctx) == 1
    assert await subscriptions.do_send_pending(ctx) == 0  # a's retry waits
    smtp_sink.refused.clear()
    move_to(ctx, beijing(2026, 6, 10, 9, 6))
    assert await subscriptions.do_send_pending(ctx) == 1
    assert [r[0] for r in smtp_sink.envelope_recipients[2:]] == ["b@example.com", "a@example.com"]


async def test_subscribing_is_throttled_and_checked(ctx: Context, smtp_sink: SmtpSink) -> None:
    for n in range(5):
        await subscriptions.do_subscribe(ctx, f"x{n}@example.com", "en", "198.51.100.7")
    with pytest.raises(YuntongError) as client:
        await subscriptions.do_subscribe(ctx, "x9@example.com", "en", "198.51.100.7")
    assert client.value.code == "rate_limited" and client.value.retry_after
    for n in range(3):
        await subscriptions.do_subscribe(ctx, "same@example.com", "en", f"192.0.2.{n}")
    with pytest.raises(YuntongError) as address:
        await subscriptions.do_subscribe(ctx, "SAME@example.com", "en", "192.0.2.99")
    assert address.value.code == "rate_limited"
    assert len(await smtp_sink.wait_for(8)) == 8
    with pytest.raises(YuntongError) as bad:
        await subscriptions.do_subscribe(ctx, "not an address", "en", "192.0.2.50")
    assert bad.value.fields == {"email": "invalid_email"}


async def test_an_expired_confirmation_link_is_refused(ctx: Context, smtp_sink: SmtpSink) -> None:
    move_to(ctx, beijing(2026, 6, 1))
    await subscriptions.do_subscribe(ctx, "late@example.com", "en", "192.0.2.1")
    token = link_in((await smtp_sink.wait_for(1))[0], "/status/confirm")
    move_to(ctx, beijing(2026, 6, 3, 10, 1))  # 48 h and a minute
    with pytest.raises(YuntongError) as late:
        await subscriptions.do_confirm(ctx, token, "192.0.2.1")
    assert late.value.code == "status_token_invalid"
    assert await subscriptions.count_subscribers(ctx) == 0
