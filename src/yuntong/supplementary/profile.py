"""A user's supplementary services as calls read them, kept per node, and the changes to them.

Call set-up reads the caller's and the callee's profiles with one query (:func:`profiles_of`)
and keeps them in :class:`ProfileCache`; every change publishes the durable
``supplementary.changed`` topic after committing and every node drops its copy.
Activating a service needs its product ordered (:mod:`yuntong.supplementary.products`);
changes to barring need the barring PIN (:mod:`yuntong.supplementary.barring`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select

from yuntong.accounts import audit
from yuntong.core.context import Context, Piece
from yuntong.core.errors import YuntongError
from yuntong.numbers import directory as numbers
from yuntong.supplementary import pin, products
from yuntong.supplementary.models import SETTINGS_OFF, ServiceSettings

CHANGED = "supplementary.changed"  # durable bus topic, after any change of a user's services
MAX_ENTRIES = 200_000
FORWARDINGS = ("cfu", "cfb", "cfnry", "cfnrc")
CLIR_MODES = ("", "temporary", "always")
LIST_MODES = ("", "blacklist", "whitelist")
_CHOICES = {"clir_mode": CLIR_MODES, "incoming_list_mode": LIST_MODES}
TIMER_RANGE = (5, 30)
MAX_LIST = 100
BARRING_FIELDS = (
    "bar_outgoing",
    "bar_international",
    "bar_incoming",
    "bar_anonymous",
    "incoming_list_mode",
    "incoming_list",
)


@dataclass(frozen=True)
class Profile:
    """What a user set; the default (every service off) for a user with no row."""

    clip: bool = False
    clir_mode: str = ""
    cfu: str | None = None
    cfb: str | None = None
    cfnry: str | None = None
    cfnrc: str | None = None
    cfnry_timer_s: int = 20
    bar_outgoing: bool = False
    bar_international: bool = False
    bar_incoming: bool = False
    bar_anonymous: bool = False
    incoming_list_mode: str = ""
    incoming_list: tuple[str, ...] = ()
    waiting: bool = False  # call waiting (TS 22.083)

    def forwarding_to(self, kind: str) -> str | None:
        target: str | None = getattr(self, kind)
        return target

    def public(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["incoming_list"] = list(self.incoming_list)
        return data


OFF = Profile()
_NAMES = tuple(f.name for f in fields(Profile))


def _profile(row: ServiceSettings) -> Profile:
    values = {name: getattr(row, name) for name in _NAMES}
    values["incoming_list"] = tuple(row.incoming_list or ())
    return Profile(**values)


class ProfileCache:
    def __init__(self) -> None:
        self.by_user: dict[int, Profile] = {}
        self.generation = 0  # bumped by every drop: what was read before must not be kept

    async def on_changed(self, _message: dict[str, Any]) -> None:
        self.generation += 1
        self.by_user.clear()


def _subscribed(ctx: Context) -> ProfileCache:
    cache = ProfileCache()
    ctx.bus.subscribe(CHANGED, cache.on_changed)
    return cache


PROFILES = Piece(
    "supplementary.profiles",
    "per-node cache",
    _subscribed,
    "users' supplementary services for call set-up (dropped on supplementary.changed)",
)


async def profiles_of(ctx: Context, user_ids: Iterable[int]) -> dict[int, Profile]:
    """The profiles of ``user_ids``: from the cache, the rest with one query."""
    cache = ctx.services.get(PROFILES)
    wanted = set(user_ids)
    found = {uid: cache.by_user[uid] for uid in wanted if uid in cache.by_user}
    missing = wanted - found.keys()
    if missing:
        generation = cache.generation
        query = select(ServiceSettings).where(ServiceSettings.user_id.in_(missing))
        async with ctx.db.session() as s:
            rows = {row.user_id: _profile(row) for row in (await s.execute(query)).scalars()}
        for uid in missing:
            found[uid] = rows.get(uid, OFF)
        if generation == cache.generation:
            if len(cache.by_user) + len(missing) > MAX_ENTRIES:
                cache.by_user.clear()
            cache.by_user.update({uid: found[uid] for uid in missing})
    return found


async def profile_of(ctx: Context, user_id: int) -> Profile:
    return (await profiles_of(ctx, [user_id]))[user_id]


# -- changes -------------------------------------------------------------------------------


def parse_assignments(texts: Iterable[str]) -> dict[str, Any]:
    """``name=value`` words (the command line) as changes: on/off for switches, off for a
    forwarding, numbers separated by commas for the incoming list."""
    changes: dict[str, Any] = {}
    for text in texts:
        name, _, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if name not in _NAMES or not _:
            raise YuntongError("validation_failed", fields={name or text: "invalid"})
        default = getattr(OFF, name)
        if isinstance(default, bool):
            if value not in ("on", "off", "true", "false"):
                raise YuntongError("validation_failed", fields={name: "invalid"})
            changes[name] = value in ("on", "true")
        elif isinstance(default, int):
            if not value.isdigit():
                raise YuntongError("validation_failed", fields={name: "invalid"})
            changes[name] = int(value)
        elif name in FORWARDINGS:
            changes[name] = None if value in ("", "off") else value
        elif name == "incoming_list":
            changes[name] = [v for v in value.split(",") if v]
        else:
            changes[name] = "" if value == "off" else value
    return changes


def check_number(value: str) -> str:
    e164 = numbers.parse_dialled(value)
    if e164 is None:
        raise YuntongError("validation_failed", fields={"number": "invalid"})
    return e164


async def check_changes(ctx: Context, user_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` validated and normalised (numbers in E.164)."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in _NAMES:
            raise YuntongError("validation_failed", fields={name: "invalid"})
        if name in FORWARDINGS and value is not None:
            value = check_number(str(value))
            target = await numbers.user_for_number(ctx, user_id, value)
            # a public number needs a carrier trunk (the SIP edge forwards there; docs/sip.md)
            outside = target is None and bool(ctx.settings.sip_trunks)
            if (target is None and not outside) or target == user_id:
                raise YuntongError("forwarding_target_invalid")
        elif name == "cfnry_timer_s" and not TIMER_RANGE[0] <= int(value) <= TIMER_RANGE[1]:
            raise YuntongError("validation_failed", fields={name: "out_of_range"})
        elif value not in _CHOICES.get(name, (value,)):
            raise YuntongError("validation_failed", fields={name: "invalid"})
        elif name == "incoming_list":
            if len(value) > MAX_LIST:
                raise YuntongError("validation_failed", fields={name: "too_long"})
            value = sorted({check_number(str(v)) for v in value})
        checked[name] = value
    return checked


def services_switched_on(before: Profile, changes: Mapping[str, Any]) -> set[str]:
    """The services that ``changes`` turn on (turning off needs no order)."""
    on: set[str] = set()
    if changes.get("clip") and not before.clip:
        on.add("clip")
    if changes.get("clir_mode") and not before.clir_mode:
        on.add("clir")
    if any(changes.get(k) for k in FORWARDINGS):
        on.add("forwarding")
    if any(changes.get(k) for k in BARRING_FIELDS if k != "incoming_list"):
        on.add("barring")
    if changes.get("waiting") and not before.waiting:
        on.add("waiting")
    return on


async def do_store(ctx: Context, user_id: int, changes: Mapping[str, Any], action: str) -> Profile:
    """Write checked ``changes``, audited, and drop every node's copy. Idempotent."""
    now = ctx.clock.now()
    async with ctx.db.session() as s:
        row = await s.get(ServiceSettings, user_id)
        if row is None:
            row = ServiceSettings(user_id=user_id, updated_at=now, **SETTINGS_OFF)
            s.add(row)
        for name, value in changes.items():
            setattr(row, name, list(value) if name == "incoming_list" else value)
        row.updated_at = now
        await audit.add(
            s, now, user_id, action, user_id, fields=sorted(changes), **_audited(changes)
        )
        profile = _profile(row)
    await ctx.bus.publish(CHANGED, {"user_id": user_id})
    return profile


def _audited(changes: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps: the switches and timers, not the numbers."""
    return {k: v for k, v in changes.items() if isinstance(v, bool | int) or k == "clir_mode"}


async def do_set_services(
    ctx: Context, user_id: int, changes: Mapping[str, Any], barring_pin: str | None = None
) -> Profile:
    """Change the user's services: what is switched on must have been ordered, and any change
    of barring needs the barring PIN."""
    before = await profile_of(ctx, user_id)
    await products.check_ordered(ctx, user_id, services_switched_on(before, changes))
    checked = await check_changes(ctx, user_id, changes)
    checked = {k: v for k, v in checked.items() if _differs(before, k, v)}
    if not checked:
        return before
    if any(k in BARRING_FIELDS for k in checked):
        await pin.check_pin(ctx, user_id, barring_pin)
    return await do_store(ctx, user_id, checked, "supplementary.changed")


def _differs(before: Profile, name: str, value: Any) -> bool:
    if name == "incoming_list":
        return tuple(value) != before.incoming_list
    return bool(getattr(before, name) != value)
