"""The public status page's truth (Atlassian Statuspage and GitHub's status page are the model):
components and their state, incidents with their append-only update timeline (investigating →
identified → monitoring → resolved), scheduled maintenance by the clock, and the 90-day history.

An incident here is the SLA's :class:`Incident` (its credits come from the same row, once it is
resolved): opening one writes the row with a ``status`` and no ``ends_at``; every update is a new
:class:`IncidentUpdate` carrying the components' impact from then on; resolving sets ``ends_at``
and clears the impact. A component's shown state is derived, never stored: the worst of what
staff set, the open incidents' impact and a maintenance in progress. Every announcement is put
in the subscribers' outbox in the same transaction (``sla/subscriptions.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.accounts import audit, roles
from yuntong.accounts.roles import Actor
from yuntong.billing.catalog.catalog import load_catalog
from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.sla import subscriptions
from yuntong.sla.incidents import check_product_codes
from yuntong.sla.models import Incident, IncidentUpdate, Maintenance, StatusComponent

# a component's states, least severe first (the worst one wins)
STATES = ("operational", "maintenance", "degraded", "partial_outage", "major_outage")
IMPACTS = ("degraded", "partial_outage", "major_outage")  # what an incident does to one
STATUSES = ("investigating", "identified", "monitoring", "resolved")
HISTORY_DAYS = 90
RECENT_DAYS = 14  # resolved incidents and completed maintenance listed on the page
MAX_TITLE = 200
MAX_MESSAGE = 4000
KEY_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def worst(states: list[str]) -> str:
    return max(states, key=STATES.index, default="operational")


def maintenance_state(m: Maintenance, now: datetime) -> str:
    """scheduled → in_progress → completed by the clock; cancelled when staff call it off."""
    if m.cancelled_at is not None:
        return "cancelled"
    if now < m.starts_at:
        return "scheduled"
    return "in_progress" if now < m.ends_at else "completed"


# -- checks ------------------------------------------------------------------------------------


def _text(value: str, name: str, most: int) -> str:
    value = value.strip()
    if not value:
        raise YuntongError("validation_failed", fields={name: "required"})
    if len(value) > most:
        raise YuntongError("validation_failed", fields={name: "too_long"})
    return value


def check_state(state: str, allowed: tuple[str, ...], name: str) -> str:
    if state not in allowed:
        raise YuntongError("status_state_invalid", fields={name: "invalid"}, state=state)
    return state


async def check_components(s: AsyncSession, ids: list[int]) -> None:
    """Every one of ``ids`` is a component (``status_component_not_found`` names the first not)."""
    if not ids:
        return
    query = select(StatusComponent.id).where(StatusComponent.id.in_(ids))
    missing = sorted(set(ids) - set((await s.execute(query)).scalars()))
    if missing:
        raise YuntongError("status_component_not_found", id=missing[0])


async def check_impacts(s: AsyncSession, impacts: dict[int, str]) -> dict[str, str]:
    """``{component id: impact}`` of existing components, keyed by the id's text (JSON)."""
    for impact in impacts.values():
        check_state(impact, IMPACTS, "impacts")
    await check_components(s, list(impacts))
    return {str(cid): impact for cid, impact in sorted(impacts.items())}


# -- components --------------------------------------------------------------------------------


async def list_components(ctx: Context) -> list[StatusComponent]:
    query = select(StatusComponent).order_by(StatusComponent.position, StatusComponent.id)
    async with ctx.db.session() as s:
        return list((await s.execute(query)).scalars())


async def do_create_component(
    ctx: Context, actor: Actor, key: str, name_zh: str, name_en: str, position: int = 0
) -> StatusComponent:
    roles.check_staff(actor)
    key = key.strip().lower()
    if not KEY_RE.fullmatch(key):
        raise YuntongError("validation_failed", fields={"key": "invalid"})
    component = StatusComponent(
        key=key,
        name_zh=_text(name_zh, "name_zh", 80),
        name_en=_text(name_en, "name_en", 80),
        position=position,
        state="operational",
        created_at=ctx.clock.now(),
    )
    async with ctx.db.session() as s:
        taken = await s.execute(select(StatusComponent.id).where(StatusComponent.key == key))
        if taken.first() is not None:
            raise YuntongError("status_component_taken", name=key)
        s.add(component)
    await audit.record(ctx, actor.user_id, "status.component", None, key=key)
    return component


async def do_update_component(
    ctx: Context,
    actor: Actor,
    component_id: int,
    *,
    name_zh: str | None = None,
    name_en: str | None = None,
    position: int | None = None,
    state: str | None = None,
) -> StatusComponent:
    """Staff rename, reorder or set the state of a component by hand."""
    roles.check_staff(actor)
    async with ctx.db.session() as s:
        component = await s.get(StatusComponent, component_id)
        if component is None:
            raise YuntongError("status_component_not_found", id=component_id)
        if name_zh is not None:
            component.name_zh = _text(name_zh, "name_zh", 80)
        if name_en is not None:
            component.name_en = _text(name_en, "name_en", 80)
        if position is not None:
            component.position = position
        if state is not None:
            component.state = check_state(state, STATES, "state")
    await audit.record(ctx, actor.user_id, "status.component", None, id=component_id, state=state)
    return component


# what a new page starts with (``yuntong status component defaults``): the services customers buy
DEFAULT_COMPONENTS = (
    ("web", "网站与 API", "Web & API"),
    ("video-calls", "视频通话", "Video calls"),
    ("meetings", "视频会议", "Meetings"),
    ("cloud-phone", "云电话", "Cloud phone"),
    ("support-desk", "在线客服", "Support desk"),
)


async def do_add_default_components(ctx: Context, actor: Actor) -> list[StatusComponent]:
    """Add those of :data:`DEFAULT_COMPONENTS` the page lacks; the ones added."""
    have = {c.key for c in await list_components(ctx)}
    added = []
    for n, (key, zh, en) in enumerate(DEFAULT_COMPONENTS):
        if key not in have:
            added.append(await do_create_component(ctx, actor, key, zh, en, (n + 1) * 10))
    return added


async def component_by_key(ctx: Context, key: str) -> StatusComponent:
    async with ctx.db.session() as s:
        found = await s.execute(select(StatusComponent).where(StatusComponent.key == key))
        component = found.scalar_one_or_none()
    if component is None:
        raise YuntongError("status_component_not_found", id=key)
    return component


# -- incidents ---------------------------------------------------------------------------------


@dataclass
class Timeline:
    """An incident and its updates, oldest first."""

    incident: Incident
    updates: list[IncidentUpdate]

    @property
    def impacts(self) -> dict[int, str]:
        """The components' impact now (none once resolved)."""
        if self.incident.ends_at is not None or not self.updates:
            return {}
        return {int(k): v for k, v in self.updates[-1].impacts.items()}


async def do_open_incident(
    ctx: Context,
    actor: Actor,
    *,
    title_zh: str,
    title_en: str,
    impacts: dict[int, str],
    message_zh: str,
    message_en: str,
    status: str = "investigating",
    product_codes: list[str] | None = None,
) -> Timeline:
    """Staff open an incident: its first update, on the page and in the subscribers' outbox.
    ``product_codes``: the products whose subscribers are credited once it is resolved."""
    roles.check_staff(actor)
    check_state(status, STATUSES[:-1], "status")
    codes = check_product_codes(await load_catalog(ctx), product_codes) if product_codes else []
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        incident = Incident(
            title=_text(title_zh, "title_zh", MAX_TITLE),
            title_en=_text(title_en, "title_en", MAX_TITLE),
            starts_at=now,
            ends_at=None,
            product_codes=codes,
            created_by=actor.user_id,
            created_at=now,
            status=status,
        )
        s.add(incident)
        await s.flush()
        first = IncidentUpdate(
            incident_id=incident.id,
            status=status,
            message_zh=_text(message_zh, "message_zh", MAX_MESSAGE),
            message_en=_text(message_en, "message_en", MAX_MESSAGE),
            impacts=await check_impacts(s, impacts),
            created_by=actor.user_id,
            created_at=now,
        )
        s.add(first)
        await s.flush()
        await subscriptions.enqueue(s, ctx, f"update:{first.id}")
    await audit.record(ctx, actor.user_id, "status.incident", None, incident_id=incident.id)
    return Timeline(incident, [first])


async def do_post_update(
    ctx: Context,
    actor: Actor,
    incident_id: int,
    *,
    status: str,
    message_zh: str,
    message_en: str,
    impacts: dict[int, str] | None = None,
) -> Timeline:
    """Append an update; ``impacts`` None keeps the last one's. ``resolved`` ends the incident
    (``ends_at``: its credits can be applied) and gives the components back."""
    roles.check_staff(actor)
    check_state(status, STATUSES, "status")
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        timeline = await _timeline(s, incident_id)
        resolved = status == "resolved"
        if impacts is not None:
            checked = await check_impacts(s, impacts)
        else:
            checked = dict(timeline.updates[-1].impacts) if timeline.updates else {}
        # conditional: of two staff resolving at once, one does; the other is told
        moved = await s.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.ends_at.is_(None))
            .values(status=status, ends_at=now if resolved else None)
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) != 1:
            raise YuntongError("status_incident_resolved")
        row = IncidentUpdate(
            incident_id=incident_id,
            status=status,
            message_zh=_text(message_zh, "message_zh", MAX_MESSAGE),
            message_en=_text(message_en, "message_en", MAX_MESSAGE),
            impacts={} if resolved else checked,
            created_by=actor.user_id,
            created_at=now,
        )
        s.add(row)
        await s.flush()
        await subscriptions.enqueue(s, ctx, f"update:{row.id}")
        await s.refresh(timeline.incident)
    timeline.updates.append(row)
    await audit.record(
        ctx, actor.user_id, "status.incident_update", None, incident_id=incident_id, status=status
    )
    return timeline


async def _timeline(s: AsyncSession, incident_id: int) -> Timeline:
    incident = await s.get(Incident, incident_id)
    if incident is None or incident.status is None:
        raise YuntongError("incident_not_found")
    return Timeline(incident, await _updates(s, [incident_id]))


async def _updates(s: AsyncSession, ids: list[int]) -> list[IncidentUpdate]:
    query = (
        select(IncidentUpdate)
        .where(IncidentUpdate.incident_id.in_(ids))
        .order_by(IncidentUpdate.created_at, IncidentUpdate.id)
    )
    return list((await s.execute(query)).scalars())


async def timelines_since(ctx: Context, since: datetime) -> list[Timeline]:
    """Status-page incidents open now or ended after ``since``, newest first."""
    query = (
        select(Incident)
        .where(
            Incident.status.is_not(None),
            or_(Incident.ends_at.is_(None), Incident.ends_at > since),
        )
        .order_by(Incident.starts_at.desc(), Incident.id.desc())
    )
    async with ctx.db.session() as s:
        incidents = list((await s.execute(query)).scalars())
        updates = await _updates(s, [i.id for i in incidents])
    by_incident: dict[int, list[IncidentUpdate]] = {i.id: [] for i in incidents}
    for u in updates:
        by_incident[u.incident_id].append(u)
    return [Timeline(i, by_incident[i.id]) for i in incidents]


async def timeline_of(ctx: Context, incident_id: int) -> Timeline:
    async with ctx.db.session() as s:
        return await _timeline(s, incident_id)


# -- maintenance -------------------------------------------------------------------------------


async def do_schedule_maintenance(
    ctx: Context,
    actor: Actor,
    *,
    title_zh: str,
    title_en: str,
    description_zh: str,
    description_en: str,
    starts_at: datetime,
    ends_at: datetime,
    component_ids: list[int],
) -> Maintenance:
    """Staff announce a maintenance window; subscribers are told at once."""
    roles.check_staff(actor)
    for name, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if moment.tzinfo is None:
            raise YuntongError("validation_failed", fields={name: "invalid"})
    if ends_at <= starts_at:
        raise YuntongError("validation_failed", fields={"ends_at": "invalid"})
    if ends_at <= ctx.clock.now():
        raise YuntongError("status_maintenance_past")
    if not component_ids:
        raise YuntongError("validation_failed", fields={"component_ids": "required"})
    async with ctx.db.session() as s:
        ids = sorted(set(component_ids))
        await check_components(s, ids)
        m = Maintenance(
            title_zh=_text(title_zh, "title_zh", MAX_TITLE),
            title_en=_text(title_en, "title_en", MAX_TITLE),
            description_zh=_text(description_zh, "description_zh", MAX_MESSAGE),
            description_en=_text(description_en, "description_en", MAX_MESSAGE),
            starts_at=starts_at,
            ends_at=ends_at,
            component_ids=ids,
            created_by=actor.user_id,
            created_at=ctx.clock.now(),
        )
        s.add(m)
        await s.flush()
        await subscriptions.enqueue(s, ctx, f"maintenance:{m.id}:scheduled")
    await audit.record(ctx, actor.user_id, "status.maintenance", None, maintenance_id=m.id)
    return m


async def do_cancel_maintenance(ctx: Context, actor: Actor, maintenance_id: int) -> Maintenance:
    """Call off a window that has not ended; subscribers are told."""
    roles.check_staff(actor)
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        m = await s.get(Maintenance, maintenance_id)
        if m is None:
            raise YuntongError("status_maintenance_not_found")
        if maintenance_state(m, now) in ("completed", "cancelled"):
            raise YuntongError("status_maintenance_over")
        m.cancelled_at = now
        await subscriptions.enqueue(s, ctx, f"maintenance:{m.id}:cancelled")
    await audit.record(ctx, actor.user_id, "status.maintenance_cancel", None, maintenance_id=m.id)
    return m


async def maintenance_since(ctx: Context, since: datetime) -> list[Maintenance]:
    """Windows that end after ``since`` (and every one still to come), soonest first."""
    query = (
        select(Maintenance)
        .where(Maintenance.ends_at > since)
        .order_by(Maintenance.starts_at, Maintenance.id)
    )
    async with ctx.db.session() as s:
        return list((await s.execute(query)).scalars())


# -- what the page shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Spell:
    """A component in ``state`` from ``start`` to ``end``."""

    component_id: int
    state: str
    start: datetime
    end: datetime


def spells(timelines: list[Timeline], windows: list[Maintenance], now: datetime) -> list[Spell]:
    """Every stretch of time a component was not operational, from the incidents' updates
    (each impact holds until the next update or the end) and maintenance that ran."""
    found: list[Spell] = []
    for t in timelines:
        for i, u in enumerate(t.updates):
            nxt = t.updates[i + 1].created_at if i + 1 < len(t.updates) else None
            end = nxt or t.incident.ends_at or now
            if nxt is None and t.incident.ends_at is None:  # ongoing: from its first moment
                end = max(end, u.created_at + timedelta(seconds=1))
            for cid, impact in u.impacts.items():
                if end > u.created_at:
                    found.append(Spell(int(cid), impact, u.created_at, end))
    for m in windows:
        if m.cancelled_at is None and m.starts_at < now:
            for member in m.component_ids:
                found.append(Spell(member, "maintenance", m.starts_at, min(m.ends_at, now)))
    return found


@dataclass(frozen=True)
class DayBar:
    day: date
    state: str  # the worst that day; "no_data" before the component existed


# how much of a minute an outage takes away from uptime (Atlassian Statuspage's rule: a partial
# outage counts 30 %, a major one in full; degraded performance and maintenance not at all)
DOWN_WEIGHT = {"partial_outage": 0.3, "major_outage": 1.0}


def uptime_pct(mine: list[Spell], start: datetime, end: datetime) -> str:
    """The share of ``start``..``end`` the component was up, weighing each moment by its worst
    outage (overlapping incidents are not counted twice), as "99.98"."""
    total = (end - start).total_seconds()
    if total <= 0:
        return "100.00"
    cuts = sorted({start, end, *(t for sp in mine for t in (sp.start, sp.end) if start < t < end)})
    down = 0.0
    for a, b in pairwise(cuts):
        weights = [DOWN_WEIGHT.get(sp.state, 0.0) for sp in mine if sp.start < b and sp.end > a]
        down += max(weights, default=0.0) * (b - a).total_seconds()
    return f"{100 * (total - down) / total:.2f}"


@dataclass
class ComponentView:
    component: StatusComponent
    state: str
    days: list[DayBar] = field(default_factory=list)
    uptime_pct: str = "100.00"


@dataclass
class Summary:
    """What the status page shows, at ``now``."""

    now: datetime
    state: str
    components: list[ComponentView]
    open_incidents: list[Timeline]
    recent_incidents: list[Timeline]
    maintenance: list[tuple[Maintenance, str]]  # with its state now


def history(
    component: StatusComponent, mine: list[Spell], today: date, tz: ZoneInfo, days: int
) -> list[DayBar]:
    """One bar per local day, oldest first: the worst state of the component's spells that
    touched the day."""
    born = component.created_at.astimezone(tz).date()
    bars = []
    for n in range(days - 1, -1, -1):
        day = today - timedelta(days=n)
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        end = start + timedelta(days=1)
        states = [sp.state for sp in mine if sp.start < end and sp.end > start]
        state = worst(states) if states or day >= born else "no_data"
        bars.append(DayBar(day, state))
    return bars


async def summary(ctx: Context, days: int = HISTORY_DAYS) -> Summary:
    now = ctx.clock.now()
    tz = ZoneInfo(ctx.settings.business_timezone)
    today = now.astimezone(tz).date()
    first = datetime(today.year, today.month, today.day, tzinfo=tz) - timedelta(days=days - 1)
    timelines = await timelines_since(ctx, first)
    windows = await maintenance_since(ctx, first)
    found = spells(timelines, windows, now)
    open_ = [t for t in timelines if t.incident.ends_at is None]
    current: dict[int, list[str]] = {}
    for t in open_:
        for cid, impact in t.impacts.items():
            current.setdefault(cid, []).append(impact)
    for m in windows:
        if maintenance_state(m, now) == "in_progress":
            for cid in m.component_ids:
                current.setdefault(cid, []).append("maintenance")
    views = []
    for c in await list_components(ctx):
        state = worst([c.state, *current.get(c.id, [])])
        mine = [sp for sp in found if sp.component_id == c.id]
        up = uptime_pct(mine, max(first, c.created_at), now)
        views.append(ComponentView(c, state, history(c, mine, today, tz, days), up))
    recent_since = now - timedelta(days=RECENT_DAYS)
    return Summary(
        now=now,
        state=worst([v.state for v in views]),
        components=views,
        open_incidents=open_,
        recent_incidents=[
            t
            for t in timelines
            if t.incident.ends_at is not None and t.incident.ends_at > recent_since
        ],
        maintenance=[
            (m, maintenance_state(m, now))
            for m in windows
            if m.ends_at > recent_since or maintenance_state(m, now) != "completed"
        ],
    )
