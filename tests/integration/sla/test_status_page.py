"""The status page's truth, on SQLite and PostgreSQL: an incident's timeline from investigating
to resolved, the components' state derived from it and from maintenance, maintenance moving from
scheduled to completed by the clock, the 90-day bars, and the Atom feed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.integration.sla.conftest import beijing, move_to, schedule
from yuntong.accounts.auth import Principal
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.sla import status, status_feed
from yuntong.sla.incidents import do_apply_incident_credits
from yuntong.sla.models import IncidentUpdate, StatusComponent

ATOM = "{http://www.w3.org/2005/Atom}"
Components = dict[str, StatusComponent]


def states(found: status.Summary) -> dict[str, str]:
    return {v.component.key: v.state for v in found.components}


async def open_video_outage(ctx: Context, operator: Principal, c: Components) -> status.Timeline:
    return await status.do_open_incident(
        ctx,
        operator,
        title_zh="视频通话失败",
        title_en="Video calls failing",
        impacts={c["video"].id: "major_outage", c["meet"].id: "degraded"},
        message_zh="正在调查视频通话失败。",
        message_en="We are investigating failing video calls.",
    )


async def test_an_incident_runs_from_investigating_to_resolved_and_gives_the_components_back(
    ctx: Context, operator: Principal, components: Components
) -> None:
    c = components
    move_to(ctx, beijing(2026, 6, 10, 9))
    assert (await status.summary(ctx)).state == "operational"

    opened = await open_video_outage(ctx, operator, c)
    found = await status.summary(ctx)
    assert found.state == "major_outage"
    assert states(found) == {"web": "operational", "video": "major_outage", "meet": "degraded"}
    assert [t.incident.id for t in found.open_incidents] == [opened.incident.id]

    move_to(ctx, beijing(2026, 6, 10, 9, 20))
    await status.do_post_update(
        ctx,
        operator,
        opened.incident.id,
        status="identified",
        message_zh="TURN 服务器故障。",
        message_en="A TURN server failed.",
        impacts={c["video"].id: "partial_outage"},
    )
    assert states(await status.summary(ctx))["video"] == "partial_outage"
    assert states(await status.summary(ctx))["meet"] == "operational"  # no longer named
    move_to(ctx, beijing(2026, 6, 10, 9, 40))
    await status.do_post_update(
        ctx,
        operator,
        opened.incident.id,
        status="monitoring",
        message_zh="已切换。",
        message_en="Failed over.",
    )
    assert states(await status.summary(ctx))["video"] == "partial_outage"  # impact kept
    move_to(ctx, beijing(2026, 6, 10, 10))
    resolved = await status.do_post_update(
        ctx,
        operator,
        opened.incident.id,
        status="resolved",
        message_zh="已恢复。",
        message_en="Resolved.",
    )

    assert resolved.incident.ends_at == beijing(2026, 6, 10, 10)
    found = await status.summary(ctx)
    assert found.state == "operational" and found.open_incidents == []
    assert [t.incident.id for t in found.recent_incidents] == [opened.incident.id]
    assert [u.status for u in found.recent_incidents[0].updates] == [
        "investigating",
        "identified",
        "monitoring",
        "resolved",
    ]
    async with ctx.db.session() as s:  # every step kept, none rewritten
        rows = (await s.execute(select(IncidentUpdate).order_by(IncidentUpdate.id))).scalars()
        assert [(u.status, u.impacts) for u in rows] == [
            ("investigating", {str(c["video"].id): "major_outage", str(c["meet"].id): "degraded"}),
            ("identified", {str(c["video"].id): "partial_outage"}),
            ("monitoring", {str(c["video"].id): "partial_outage"}),
            ("resolved", {}),
        ]
    with pytest.raises(YuntongError) as again:
        await status.do_post_update(
            ctx, operator, opened.incident.id, status="monitoring", message_zh="x", message_en="x"
        )
    assert again.value.code == "status_incident_resolved"


async def test_credits_wait_until_the_incident_is_resolved(
    ctx: Context, operator: Principal, components: Components
) -> None:
    move_to(ctx, beijing(2026, 6, 10, 9))
    opened = await open_video_outage(ctx, operator, components)
    with pytest.raises(YuntongError) as open_:
        await do_apply_incident_credits(ctx, operator, opened.incident.id)
    assert open_.value.code == "incident_open"
    await status.do_post_update(
        ctx, operator, opened.incident.id, status="resolved", message_zh="好", message_en="ok"
    )
    assert await do_apply_incident_credits(ctx, operator, opened.incident.id) == 0  # no products


async def test_staff_state_by_hand_and_the_worst_state_wins(
    ctx: Context, operator: Principal, components: Components
) -> None:
    c = components
    await status.do_update_component(ctx, operator, c["web"].id, state="degraded")
    await open_video_outage(ctx, operator, c)
    found = await status.summary(ctx)
    assert states(found) == {"web": "degraded", "video": "major_outage", "meet": "degraded"}
    with pytest.raises(YuntongError) as bad:
        await status.do_update_component(ctx, operator, c["web"].id, state="on_fire")
    assert bad.value.code == "status_state_invalid"
    with pytest.raises(YuntongError) as missing:
        await status.do_open_incident(
            ctx,
            operator,
            title_zh="x",
            title_en="x",
            impacts={999_999: "degraded"},
            message_zh="x",
            message_en="x",
        )
    assert missing.value.code == "status_component_not_found"


async def test_maintenance_is_scheduled_then_in_progress_then_completed_by_the_clock(
    ctx: Context, operator: Principal, components: Components
) -> None:
    c = components
    move_to(ctx, beijing(2026, 6, 1, 12))
    m = await schedule(
        ctx,
        operator,
        beijing(2026, 6, 3, 1),
        beijing(2026, 6, 3, 3),
        [c["web"].id, c["meet"].id],
        ("数据库升级", "Database upgrade"),
        ("升级 PostgreSQL。", "PostgreSQL is upgraded."),
    )

    def window(found: status.Summary) -> str:
        return dict((x.id, state) for x, state in found.maintenance)[m.id]

    found = await status.summary(ctx)
    assert window(found) == "scheduled" and found.state == "operational"
    move_to(ctx, beijing(2026, 6, 3, 1, 30))
    found = await status.summary(ctx)
    assert window(found) == "in_progress"
    assert states(found) == {"web": "maintenance", "video": "operational", "meet": "maintenance"}
    move_to(ctx, beijing(2026, 6, 3, 3))
    found = await status.summary(ctx)
    assert window(found) == "completed" and found.state == "operational"
    with pytest.raises(YuntongError) as over:
        await status.do_cancel_maintenance(ctx, operator, m.id)
    assert over.value.code == "status_maintenance_over"
    with pytest.raises(YuntongError) as past:
        await schedule(
            ctx,
            operator,
            beijing(2026, 6, 1),
            beijing(2026, 6, 2),
            [c["web"].id],
            ("x", "x"),
            ("x", "x"),
        )
    assert past.value.code == "status_maintenance_past"


async def test_the_90_day_bars_show_each_days_worst_state(
    ctx: Context, operator: Principal, components: Components
) -> None:
    c = components
    # 10 June: degraded 09:00, then a major outage 09:30–10:00 (resolved)
    move_to(ctx, beijing(2026, 6, 10, 9))
    opened = await status.do_open_incident(
        ctx,
        operator,
        title_zh="慢",
        title_en="Slow",
        impacts={c["video"].id: "degraded"},
        message_zh="慢",
        message_en="Slow",
    )
    move_to(ctx, beijing(2026, 6, 10, 9, 30))
    await status.do_post_update(
        ctx,
        operator,
        opened.incident.id,
        status="identified",
        message_zh="中断",
        message_en="Down",
        impacts={c["video"].id: "major_outage"},
    )
    move_to(ctx, beijing(2026, 6, 10, 10))
    await status.do_post_update(
        ctx, operator, opened.incident.id, status="resolved", message_zh="好", message_en="ok"
    )
    # 12 June 23:00 – 13 June 01:00: maintenance across midnight (Beijing days)
    await schedule(
        ctx,
        operator,
        beijing(2026, 6, 12, 23),
        beijing(2026, 6, 13, 1),
        [c["video"].id],
        ("维护", "Maintenance"),
        ("维护", "Maintenance"),
    )
    move_to(ctx, beijing(2026, 6, 5, 8))
    await status.do_create_component(ctx, operator, "phone", "云电话", "Cloud phone", 40)
    move_to(ctx, beijing(2026, 6, 20, 8))

    found = await status.summary(ctx)
    video = next(v for v in found.components if v.component.key == "video")
    bars = {d.day.isoformat(): d.state for d in video.days}
    assert len(video.days) == 90 and video.days[-1].day.isoformat() == "2026-06-20"
    assert bars["2026-06-10"] == "major_outage"
    assert bars["2026-06-11"] == "operational"
    assert bars["2026-06-12"] == "maintenance" and bars["2026-06-13"] == "maintenance"
    # 30 minutes of major outage in 89 days and 8 hours (degraded and maintenance count as up)
    assert video.uptime_pct == f"{100 * (1 - 30 / (89 * 1440 + 480)):.2f}" == "99.98"
    phone = next(v for v in found.components if v.component.key == "phone")
    assert {d.day.isoformat() for d in phone.days if d.state == "no_data"} == {
        (beijing(2026, 6, 4) - timedelta(days=n)).date().isoformat() for n in range(74)
    }
    assert {d.state for d in phone.days if d.day.isoformat() >= "2026-06-05"} == {"operational"}


async def test_the_atom_feed_has_an_entry_per_update_and_maintenance(
    ctx: Context, operator: Principal, components: Components
) -> None:
    c = components
    move_to(ctx, beijing(2026, 6, 10, 9))
    opened = await open_video_outage(ctx, operator, c)
    move_to(ctx, beijing(2026, 6, 10, 9, 30))
    await status.do_post_update(
        ctx, operator, opened.incident.id, status="resolved", message_zh="已恢复", message_en="Back"
    )
    move_to(ctx, beijing(2026, 6, 10, 9, 40))
    m = await schedule(
        ctx,
        operator,
        beijing(2026, 6, 11, 1),
        beijing(2026, 6, 11, 2),
        [c["web"].id],
        ("升级", "Upgrade"),
        ("升级", "We upgrade."),
    )

    root = ET.fromstring(await status_feed.feed(ctx, "en"))
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id", "").startswith("tag:")
    assert root.findtext(f"{ATOM}updated") == "2026-06-10T01:40:00+00:00"
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    entries = root.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles == [
        "[Scheduled maintenance] Upgrade",
        "[Resolved] Video calls failing",
        "[Investigating] Video calls failing",
    ]
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 3 and any(
        i and i.endswith(f":maintenance:{m.id}:scheduled") for i in ids
    )
    for e in entries:
        link = e.find(f"{ATOM}link")
        assert link is not None and link.get("href", "").startswith("http://")
        assert e.findtext(f"{ATOM}updated") and e.findtext(f"{ATOM}content")
    zh = ET.fromstring(await status_feed.feed(ctx, "zh-CN"))
    assert "[已解决] 视频通话失败" in [
        e.findtext(f"{ATOM}title") for e in zh.findall(f"{ATOM}entry")
    ]
