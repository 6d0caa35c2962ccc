"""Which node holds each online device: the directory every node reads to tell who is online
and where a device's socket is.

On the embedded single node the hub's own channels are the directory (:class:`LocalDevices`).
With several nodes (``YUNTONG_REDIS_URL``) it is one Redis hash per user,
``yuntong:dev:<user>``: device id → ``<node>|<digest of the device's resume token>``, and a set
per node of the devices it holds, ``yuntong:devnode:<node>`` (:class:`RedisDevices`):

- a device is **online** while its entry names a live node (``cluster.nodes``' view, renewed
  with the node's keepalive): a dead node's devices are offline at once, before anyone cleans
  its entries up (its set is deleted by the sweep, and by the node itself at its next start);
- **placing** a device is a compare-and-set: an id already held on another live node is a
  second tab (``.2``, ``.3`` … as on one node), unless the socket resumes with that device's
  resume token — then the device *moves* here, and the node that held it hands its buffer over
  (``realtime/hub.py``); a dead node's device is taken over as is;
- **releasing** deletes the entry only while it is still this node's, so a device that moved
  on is never taken for gone by the node it left;
- a Redis that restarted empty (or lost its data) forgot every entry: each node keeps a mark,
  ``yuntong:devmark:<node>``, and puts its devices back (where nobody else placed them
  meanwhile) when its mark is gone (:meth:`RedisDevices.restore`, every keepalive), else
  every user would look offline to the other nodes until their sockets reconnected. The sweep
  of a dead node deletes its mark with its entries, so a node that was only stalled (taken for
  dead meanwhile) puts its devices back the same way.

While Redis is unreachable each node answers from its own channels only (as for busy marks,
docs/operations.md "Shared truth").
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from yuntong.cluster.nodes import live_view, recoverable, silent_for
from yuntong.core.context import Context
from yuntong.core.logging import get_logger
from yuntong.core.shared import RedisLink, SharedUnavailable, redis_link

log = get_logger(__name__)

KEY = "yuntong:dev:{}"
NODE_KEY = "yuntong:devnode:{}"
MARK_KEY = "yuntong:devmark:{}"  # this node's entries are in the directory (see restore)
MAX_TABS = 50  # second, third … tab of one device id: beyond, the id is refused as taken

# KEYS: the user's hash, this node's set. ARGV: device, expected value ('' = absent), new
# value, set member. Sets the entry when it still holds what the caller expected and returns
# the integer 1; else returns the string it holds ('' = absent), so that the caller looks
# again without a read of its own (a new device, the common case, costs one round trip).
_CAS = """
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return cur end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 1
"""
# KEYS: the user's hash, this node's set. ARGV: device, node prefix ('<node>|'), set member.
# Deletes the entry only while it is this node's; returns 1 if it was.
_RELEASE = """
redis.call('SREM', KEYS[2], ARGV[3])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.sub(cur, 1, string.len(ARGV[2])) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


def token_digest(token: str) -> str:
    """What the directory keeps of a resume token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Placement:
    """Where a socket's device goes: its id (maybe ``.2`` …), and ``moved_from``, the live node
    that held it until this socket resumed it here (``dead_from``: the dead node that did)."""

    device_id: str
    moved_from: str | None = None
    dead_from: str | None = None


class Devices(ABC):
    """The directory of online devices (see the module's docstring)."""

    @abstractmethod
    async def place(
        self,
        user_id: int,
        device_id: str,
        resume_token: str | None,
        token: str,
        here: Collection[str],
    ) -> Placement:
        """Register a device on this node; ``here``: the ids this node holds for the user,
        ``token``: the resume token of the channel that will hold it."""

    @abstractmethod
    async def release(self, user_id: int, device_id: str) -> bool:
        """The device left this node: whether it was still registered here (not moved)."""

    @abstractmethod
    async def online_among(self, user_ids: Sequence[int]) -> set[int]:
        """Those of ``user_ids`` with a device on a live node."""

    @abstractmethod
    async def where_each(self, devices: Sequence[tuple[int, str]]) -> dict[tuple[int, str], bool]:
        """Whether each (user, device) is held by a live node (one look for them all)."""

    async def forget_node(self, node_id: str) -> int:
        """Drop the entries of a node that died or restarted; how many."""
        return 0

    async def holders(self) -> set[str]:
        """The nodes that have entries."""
        return set()

    async def restore(self, held: Callable[[], list[tuple[int, str, str]]]) -> int:
        """Put this node's devices back (``held()``: user, device, resume token) when the
        directory lost them (Redis restarted empty); how many were put back."""
        return 0


class LocalDevices(Devices):
    """One node: the hub's channels are the directory (``here`` is all there is)."""

    def __init__(self, node_id: str, online_here: Callable[[int], Collection[str]]) -> None:
        self.node_id = node_id
        self.online_here = online_here

    async def place(
        self,
        user_id: int,
        device_id: str,
        resume_token: str | None,
        token: str,
        here: Collection[str],
    ) -> Placement:
        return Placement(_free_id(device_id, here))

    async def release(self, user_id: int, device_id: str) -> bool:
        return True

    async def online_among(self, user_ids: Sequence[int]) -> set[int]:
        return {user_id for user_id in user_ids if self.online_here(user_id)}

    async def where_each(self, devices: Sequence[tuple[int, str]]) -> dict[tuple[int, str], bool]:
        return {
            (user_id, device): device in self.online_here(user_id) for user_id, device in devices
        }


def _free_id(device_id: str, taken: Collection[str]) -> str:
    if device_id not in taken:
        return device_id
    n = 2
    while f"{device_id}.{n}" in taken:
        n += 1
    return f"{device_id}.{n}"


class RedisDevices(Devices):
    """Several nodes: the directory in Redis (see the module's docstring); this node's own
    channels answer while Redis is unreachable."""

    def __init__(self, ctx: Context, link: RedisLink, local: LocalDevices) -> None:
        self.ctx = ctx
        self.link = link
        self.local = local
        self.node_id = ctx.node_id
        self._cas = link.script(_CAS)
        self._release = link.script(_RELEASE)

    async def _live(self) -> frozenset[str]:
        return await live_view(self.ctx)

    async def place(
        self,
        user_id: int,
        device_id: str,
        resume_token: str | None,
        token: str,
        here: Collection[str],
    ) -> Placement:
        key, node_key = KEY.format(user_id), NODE_KEY.format(self.node_id)
        value = f"{self.node_id}|{token_digest(token)}"
        resuming = token_digest(resume_token) if resume_token else None
        candidate, n = device_id, 1
        current = ""  # what the entry is expected to hold: nothing, until Redis says otherwise
        try:
            while n <= MAX_TABS:
                if candidate in here:
                    n += 1
                    candidate = f"{device_id}.{n}"
                    continue
                placement = await self._placement(candidate, current, resuming)
                if placement is None:
                    n += 1
                    candidate, current = f"{device_id}.{n}", ""
                    continue
                args = [candidate, current, value, f"{user_id}/{candidate}"]
                done = await self.link.run(
                    partial(_run_script, self._cas, keys=[key, node_key], args=args)
                )
                if isinstance(done, int):
                    return placement
                current = _text(done)  # held otherwise (another tab, or a resume): look again
        except SharedUnavailable:
            return await self.local.place(user_id, device_id, resume_token, token, here)
        return Placement(_free_id(device_id, here))

    async def _placement(
        self, candidate: str, current: str, resuming: str | None
    ) -> Placement | None:
        """Where the device goes if its entry holds ``current`` ('': none); None when the id is
        another live tab's."""
        if not current:
            return Placement(candidate)
        holder, _, digest = current.partition("|")
        live = holder in await self._live()
        if resuming is not None and digest == resuming and holder != self.node_id:
            return Placement(
                candidate,
                moved_from=holder if live else None,
                dead_from=None if live else holder,
            )
        if live:  # another tab's, on this node (left over) or another
            return None if holder != self.node_id else Placement(candidate)
        return Placement(candidate, dead_from=holder)

    async def release(self, user_id: int, device_id: str) -> bool:
        args = [device_id, f"{self.node_id}|", f"{user_id}/{device_id}"]
        keys = [KEY.format(user_id), NODE_KEY.format(self.node_id)]
        try:
            return bool(
                await self.link.run(lambda r: self._release(keys=keys, args=args, client=r))
            )
        except SharedUnavailable:
            log.warning("device_entry_left_to_the_sweep", user_id=user_id)
            return True

    async def online_among(self, user_ids: Sequence[int]) -> set[int]:
        online = await self.local.online_among(user_ids)
        others = [u for u in user_ids if u not in online]
        if not others:
            return online

        async def holders(r: Redis) -> list[list[bytes | str]]:
            async with r.pipeline(transaction=False) as pipe:
                for user_id in others:
                    pipe.hvals(KEY.format(user_id))
                found: list[list[bytes | str]] = await pipe.execute()
            return found

        try:
            found = await self.link.run(holders)
        except SharedUnavailable:
            return online
        live = await self._live()
        for user_id, values in zip(others, found, strict=True):
            if any(_text(v).partition("|")[0] in live for v in values):
                online.add(user_id)
        return online

    async def where_each(self, devices: Sequence[tuple[int, str]]) -> dict[tuple[int, str], bool]:
        if not devices:
            return {}

        async def held(r: Redis) -> list[bytes | str | None]:
            async with r.pipeline(transaction=False) as pipe:
                for user_id, device_id in devices:
                    pipe.hget(KEY.format(user_id), device_id)
                found: list[bytes | str | None] = await pipe.execute()
            return found

        try:
            values = await self.link.run(held)
        except SharedUnavailable:
            return await self.local.where_each(devices)
        live = await self._live()
        return {
            pair: value is not None and _text(value).partition("|")[0] in live
            for pair, value in zip(devices, values, strict=True)
        }

    async def holders(self) -> set[str]:
        prefix = NODE_KEY.format("")

        async def scan(r: Redis) -> set[str]:
            return {
                _text(key).removeprefix(prefix)
                async for key in r.scan_iter(match=prefix + "*", count=1000)
            }

        try:
            return await self.link.run(scan)
        except SharedUnavailable:
            return set()

    async def restore(self, held: Callable[[], list[tuple[int, str, str]]]) -> int:
        mark = MARK_KEY.format(self.node_id)
        node_key = NODE_KEY.format(self.node_id)

        async def put_back(r: Redis) -> int:
            if await r.exists(mark):
                return 0
            entries = held()
            async with r.pipeline(transaction=False) as pipe:
                for user_id, device_id, token in entries:
                    value = f"{self.node_id}|{token_digest(token)}"
                    pipe.hsetnx(KEY.format(user_id), device_id, value)
                    pipe.sadd(node_key, f"{user_id}/{device_id}")
                pipe.set(mark, "1")
                await pipe.execute()
            return len(entries)

        try:
            restored = await self.link.run(put_back)
        except SharedUnavailable:
            return 0
        if restored:
            log.warning("device_entries_restored", count=restored)
        return restored

    async def forget_node(self, node_id: str) -> int:
        node_key = NODE_KEY.format(node_id)
        prefix = f"{node_id}|"

        async def forget(r: Redis) -> int:
            members = [_text(m) for m in await r.smembers(node_key)]
            n = 0
            for member in members:
                user, _, device = member.partition("/")
                n += int(
                    await self._release(
                        keys=[KEY.format(user), node_key], args=[device, prefix, member], client=r
                    )
                )
            # and its mark: a node taken for dead that was only stalled puts its devices back
            await r.delete(node_key, MARK_KEY.format(node_id))
            return n

        try:
            return await self.link.run(forget)
        except SharedUnavailable:
            return 0


async def _run_script(
    script: AsyncScript, r: Redis, *, keys: list[str], args: list[str]
) -> int | bytes | str:
    result: int | bytes | str = await script(keys=keys, args=args, client=r)
    return result


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def devices_for(ctx: Context, online_here: Callable[[int], Collection[str]]) -> Devices:
    """The directory for this context: in Redis with several nodes, else the hub's own."""
    local = LocalDevices(ctx.node_id, online_here)
    link = redis_link(ctx)
    return local if link is None else RedisDevices(ctx, link, local)


async def do_forget_dead_devices(ctx: Context, directory: Devices, *, at_start: bool) -> int:
    """Delete the directory entries of nodes dead for longer than the reconnect grace period
    (and, at start-up, this node's previous run's): they already count as offline; this frees
    their memory. Until then a device of a dead node that resumes elsewhere is recognised by
    its entry, and is told what it missed (``hello.resync``). Returns how many."""
    owners = await recoverable(ctx, await directory.holders(), at_start=at_start)
    others = [node_id for node_id in owners.nodes if node_id != ctx.node_id]
    silent = await silent_for(ctx, others)
    forgotten = 0
    for node_id in owners.nodes:
        if node_id == ctx.node_id or silent[node_id] >= ctx.settings.reconnect_grace_s:
            forgotten += await directory.forget_node(node_id)
    return forgotten
