"""The status page's Atom feed (RFC 4287): one entry per incident update and per maintenance
announcement of the last 90 days, newest first, in one language."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from yuntong.core.context import Context
from yuntong.core.i18n import translate
from yuntong.sla.models import Maintenance
from yuntong.sla.status import HISTORY_DAYS, maintenance_since, timelines_since
from yuntong.sla.subscriptions import base_url

ATOM = "http://www.w3.org/2005/Atom"
MOST = 100


def _tag(ctx: Context, *parts: object) -> str:
    """A tag URI (RFC 4151): stable whatever address the feed is read at."""
    host = urlsplit(base_url(ctx)).hostname or "localhost"
    return f"tag:{host},2026:status" + "".join(f":{p}" for p in parts)


def _add(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


Entry = tuple[datetime, str, str, str, str]  # updated, id, title, text, anchor


def _maintenance_entry(m: Maintenance, locale: str, ctx: Context) -> Entry:
    zh = locale == "zh-CN"
    what = "cancelled" if m.cancelled_at is not None else "scheduled"
    title = translate(
        f"status.mail.maintenance.{what}.subject", locale, title=m.title_zh if zh else m.title_en
    )
    window = translate(
        "status.window",
        locale,
        start=_stamp(m.starts_at),
        end=_stamp(m.ends_at),
        tz="UTC",
    )
    text = f"{window}\n{m.description_zh if zh else m.description_en}"
    updated = m.cancelled_at or m.created_at
    return updated, _tag(ctx, "maintenance", m.id, what), title, text, f"maintenance-{m.id}"


async def feed(ctx: Context, locale: str) -> bytes:
    """The feed's XML document."""
    since = ctx.clock.now() - timedelta(days=HISTORY_DAYS)
    entries: list[Entry] = []
    for t in await timelines_since(ctx, since):
        title = t.incident.title if locale == "zh-CN" else t.incident.title_en or t.incident.title
        for u in t.updates:
            status = translate(f"status.status.{u.status}", locale)
            text = u.message_zh if locale == "zh-CN" else u.message_en
            entry_title = translate(
                "status.mail.update.subject", locale, status=status, title=title
            )
            anchor = f"incident-{t.incident.id}"
            entries.append((u.created_at, _tag(ctx, "update", u.id), entry_title, text, anchor))
    for m in await maintenance_since(ctx, since):
        entries.append(_maintenance_entry(m, locale, ctx))
    # newest first; of two at one moment, the one written later (updates come in order)
    order = sorted(range(len(entries)), key=lambda n: (entries[n][0], n), reverse=True)
    entries = [entries[n] for n in order[:MOST]]

    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": locale})
    page = f"{base_url(ctx)}/status"
    _add(root, "id", _tag(ctx))
    _add(root, "title", translate("status.name", locale))
    _add(root, "updated", _stamp(entries[0][0] if entries else ctx.clock.now()))
    _add(root, "link", rel="self", href=f"{page}/feed.atom", type="application/atom+xml")
    _add(root, "link", rel="alternate", href=page, type="text/html")
    author = _add(root, "author")
    _add(author, "name", translate("status.name", locale))
    for updated, entry_id, title, text, anchor in entries:
        entry = _add(root, "entry")
        _add(entry, "id", entry_id)
        _add(entry, "title", title)
        _add(entry, "updated", _stamp(updated))
        _add(entry, "link", rel="alternate", href=f"{page}#{anchor}", type="text/html")
        _add(entry, "content", text, type="text")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
