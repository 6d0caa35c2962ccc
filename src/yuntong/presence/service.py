"""Presence: online / busy / dnd / offline, pushed live to the user's contacts only.

Status is derived, never stored: offline without an attached device, busy while in a call
(the busy marks the call engine takes, :mod:`yuntong.presence.busy`), dnd when the user
switched it on (``users.dnd``) or is inside one of their schedules' windows
(:mod:`yuntong.presence.dnd`, :mod:`yuntong.presence.schedules`), online otherwise.
Busy and dnd are shared truth: with several nodes every node sees them at once. Only users who
keep someone in their contacts and whom that someone has not blocked see it; the address book
tells presence who they are, and ``create_app`` hands it :func:`statuses_of`, so that it does
not import presence back.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from typing import Any

from yuntong.contacts import service as contacts
from yuntong.core.context import Context, Piece
from yuntong.presence import schedules
from yuntong.presence.busy import busy_marks
from yuntong.presence.dnd import dnd_states
from yuntong.realtime.connection import hub_of

CIRCLES_KEPT = 50_000  # users whose circle a node remembers; the least recently asked go


class Circles:
    """Per node: the :class:`contacts.Circle` (who sees the user's presence, whose the user
    sees) of the users last asked about, dropped on ``contacts.changed`` (a durable topic:
    every node hears it); ``generation`` counts the drops, so that a read that started before
    one is not kept. Not only this node's users: the node that owns a call publishes both
    parties' presence at its start and end, and the callee's devices may be on another node."""

    def __init__(self) -> None:
        self.by_user: OrderedDict[int, contacts.Circle] = OrderedDict()
        self.generation = 0

    def keep(self, user_id: int, circle: contacts.Circle) -> None:
        self.by_user[user_id] = circle
        if len(self.by_user) > CIRCLES_KEPT:
            self.by_user.popitem(last=False)

    def drop(self, *user_ids: int) -> None:
        self.generation += 1
        for user_id in user_ids:
            self.by_user.pop(user_id, None)


WATCHERS = Piece(
    "presence.watchers",
    "per-node cache",
    lambda ctx: Circles(),
    "who keeps a user in their contacts, and whose presence the user sees, for the users last "
    "asked about (dropped on contacts.changed)",
)


def _circles(ctx: Context) -> Circles:
    return ctx.services.get(WATCHERS)


async def _circle(ctx: Context, user_id: int) -> contacts.Circle:
    """Whom the user's presence concerns (asked when a device comes online, for its
    snapshot, and at every call's start and end)."""
    circles = _circles(ctx)
    found = circles.by_user.get(user_id)
    if found is not None:
        circles.by_user.move_to_end(user_id)
        return found
    generation = circles.generation
    found = await contacts.circle_of(ctx, user_id)
    if circles.generation == generation:
        circles.keep(user_id, found)
    return found


async def on_contacts_changed(ctx: Context, message: dict[str, Any]) -> None:
    """A contact was added or removed, or a block set or lifted: both sides learn at once
    what they may now see of each other (the blocked one sees "offline")."""
    owner, other = message["owner_id"], message["other_id"]
    _circles(ctx).drop(owner, other)
    await _tell(ctx, owner, about=other)
    await _tell(ctx, other, about=owner)


async def _tell(ctx: Context, to_user: int, *, about: int) -> None:
    hub = hub_of(ctx)
    if not await hub.is_online(to_user):
        return
    visible = to_user in (await _circle(ctx, about)).watchers
    status = await status_of(ctx, about) if visible else "offline"
    await hub.send(to_user, "presence", {"user_id": about, "status": status})


async def statuses_of(ctx: Context, user_ids: Sequence[int]) -> dict[int, str]:
    """Each user's presence: one look at the busy marks and one at do-not-disturb for all."""
    hub = hub_of(ctx)
    online_set = await hub.online_among(user_ids) if user_ids else set()
    online = [user_id for user_id in user_ids if user_id in online_set]
    busy = await busy_marks(ctx).busy_among(online) if online else set()
    free = [user_id for user_id in online if user_id not in busy]
    dnd = await dnd_states(ctx).among(ctx, free) if free else set()
    statuses = dict.fromkeys(user_ids, "offline")
    statuses.update((user_id, "online") for user_id in free)
    statuses.update(dict.fromkeys(busy, "busy"))
    statuses.update(dict.fromkeys(dnd, "dnd"))
    return statuses


async def status_of(ctx: Context, user_id: int) -> str:
    return (await statuses_of(ctx, [user_id]))[user_id]


async def is_dnd(ctx: Context, user_id: int) -> bool:
    """Whether the (online) user is not to be disturbed now — switched on, or inside a
    schedule's window — as every node sees it."""
    return bool(await dnd_states(ctx).among(ctx, [user_id]))


async def snapshot(ctx: Context, user_id: int) -> list[dict[str, Any]]:
    """Presence of everyone in the user's address book who has not blocked the user."""
    ids = (await _circle(ctx, user_id)).visible
    statuses = await statuses_of(ctx, ids)
    return [{"user_id": uid, "status": statuses[uid]} for uid in ids]


async def do_publish(ctx: Context, user_id: int) -> None:
    """Push the user's current status to the online users who have them as a contact."""
    hub = hub_of(ctx)
    everyone = (await _circle(ctx, user_id)).watchers
    online = await hub.online_among(everyone) if everyone else set()
    watchers = [w for w in everyone if w in online]
    if not watchers:
        return
    data = {"user_id": user_id, "status": await status_of(ctx, user_id)}
    for watcher in watchers:
        await hub.send(watcher, "presence", data)


async def get_dnd(ctx: Context, user_id: int) -> bool:
    """Whether the user is not to be disturbed now (switched on, or in a scheduled window)."""
    return (await schedules.effective_of(ctx, user_id)).on


async def do_set_dnd(ctx: Context, user_id: int, on: bool) -> str:
    """Turn do-not-disturb on or off (off inside a scheduled window: until the window ends):
    kept, applied on every node, and pushed to the user's watchers.

    Returns the user's presence now.
    """
    await schedules.do_switch(ctx, user_id, on)
    return await status_of(ctx, user_id)


async def do_push_dnd(ctx: Context, user_id: int) -> None:
    """The user's do-not-disturb changed (or a window started or ended): their presence to
    their watchers, and the new state (``presence.dnd``) to their own devices."""
    await do_publish(ctx, user_id)
    effective = await schedules.effective_of(ctx, user_id)
    await hub_of(ctx).send(user_id, "presence.dnd", schedules.effective_data(effective))


async def on_dnd_changed(ctx: Context, message: dict[str, Any]) -> None:
    """A user's do-not-disturb changed on some node or in the CLI (``presence.dnd``): drop the
    copy, and the nodes holding the user's devices push the news."""
    user_id = int(message["user_id"])
    await dnd_states(ctx).forget(user_id)
    if hub_of(ctx).has_devices_here(user_id):
        await do_push_dnd(ctx, user_id)


async def on_user_online(ctx: Context, user_id: int) -> None:
    await dnd_states(ctx).online(ctx, user_id)
    await do_publish(ctx, user_id)


async def on_user_offline(ctx: Context, user_id: int) -> None:
    await dnd_states(ctx).offline(user_id)
    await do_publish(ctx, user_id)
    _circles(ctx).by_user.pop(user_id, None)


def install(ctx: Context) -> None:
    """Follow devices coming and going, address-book changes (the watcher cache) and
    do-not-disturb changes."""
    hub = hub_of(ctx)
    hub.on_user_online.append(partial(on_user_online, ctx))
    hub.on_user_offline.append(partial(on_user_offline, ctx))
    ctx.bus.subscribe(contacts.CHANGED_CHANNEL, partial(on_contacts_changed, ctx))
    ctx.bus.subscribe(schedules.CHANGED, partial(on_dnd_changed, ctx))
