"""The audit trail made tamper-evident (CS 6.2 regular security checks; ``yuntong security
check``): every audit event is sealed, in the order it is sealed in, with an HMAC-SHA-256 over
the event and the previous event's MAC, under a key derived from ``secret_key``.

Events are written as before (one INSERT in the caller's transaction); sealing happens after,
on each billing worker pass and at every check, under the job lease ``audit.chain`` (so the
chain has one writer whichever node seals). A changed, deleted or inserted sealed event breaks
the chain at that event; someone with the database alone cannot forge MACs (the key is not in
it). The head (last sequence number and MAC) is kept with the job's lease, so events cut off
the end of the chain are found too. Rotating ``secret_key`` restarts nothing: the check then
fails from the first event, so rotate it together with a new chain (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlalchemy import func, select, update

from yuntong.accounts.models import AuditEvent
from yuntong.cluster.jobs import Lease, last_done, lease_done, singleton, singleton_when_free
from yuntong.core.context import Context

JOB = "audit.chain"
BATCH = 1000
GENESIS = "0" * 64


def _key(ctx: Context) -> bytes:
    secret = ctx.settings.secret_key.get_secret_value().encode()
    return hashlib.sha256(b"yuntong audit chain\x00" + secret).digest()


def event_mac(key: bytes, previous: str, seq: int, event: AuditEvent) -> str:
    """The MAC of one event: over the previous MAC, its place in the chain and its fields."""
    body = json.dumps(
        [
            previous,
            seq,
            event.id,
            event.at.isoformat(),
            event.actor_id,
            event.action,
            event.target_user_id,
            event.detail,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


async def _head(ctx: Context) -> tuple[int, str]:
    async with ctx.db.session() as s:
        row = (
            await s.execute(
                select(AuditEvent.chain_seq, AuditEvent.chain_mac)
                .where(AuditEvent.chain_seq.is_not(None))
                .order_by(AuditEvent.chain_seq.desc())
                .limit(1)
            )
        ).first()
    if row is None or row[0] is None:
        return 0, GENESIS
    return int(row[0]), str(row[1])


async def pending(ctx: Context) -> int:
    async with ctx.db.session() as s:
        count = await s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.chain_seq.is_(None))
        )
    return int(count or 0)


async def do_seal(ctx: Context) -> int:
    """Seal the events not sealed yet (``yuntong security check``): waits while another node
    seals; returns how many."""
    if not await pending(ctx):
        return 0
    async with singleton_when_free(ctx, JOB) as lease:
        return await _seal(ctx, lease)


async def do_seal_on_pass(ctx: Context) -> None:
    """The billing worker's pass (handed over in ``yuntong.services``): seal what is new,
    unless another node is sealing."""
    if not await pending(ctx):
        return
    async with singleton(ctx, JOB) as lease:
        if lease is not None:
            await _seal(ctx, lease)


async def _seal(ctx: Context, lease: Lease) -> int:
    """Seal in id order, a batch a transaction; the head is kept with the lease
    (``seq:mac``)."""
    key = _key(ctx)
    sealed = 0
    seq, mac = await _head(ctx)
    while True:
        async with ctx.db.session() as s:
            events = list(
                (
                    await s.execute(
                        select(AuditEvent)
                        .where(AuditEvent.chain_seq.is_(None))
                        .order_by(AuditEvent.id)
                        .limit(BATCH)
                    )
                ).scalars()
            )
            for event in events:
                seq += 1
                mac = event_mac(key, mac, seq, event)
                await s.execute(
                    update(AuditEvent)
                    .where(AuditEvent.id == event.id)
                    .values(chain_seq=seq, chain_mac=mac)
                )
        sealed += len(events)
        if len(events) < BATCH:
            break
    if sealed:
        await lease_done(ctx, lease, f"{seq}:{mac[:52]}")
    return sealed


@dataclass(frozen=True)
class ChainReport:
    """What the check found: events sealed and checked, events not sealed yet, and the first
    break (the event's id, or the sequence number missing) with what is wrong."""

    sealed: int
    unsealed: int
    broken_event: int | None = None
    problem: str = ""  # "" | altered | missing | truncated

    @property
    def ok(self) -> bool:
        return not self.problem


async def check_chain(ctx: Context) -> ChainReport:
    """Walk the chain from its start, recomputing every MAC."""
    key = _key(ctx)
    previous, expected = GENESIS, 1
    while True:
        async with ctx.db.session() as s:
            events = list(
                (
                    await s.execute(
                        select(AuditEvent)
                        .where(AuditEvent.chain_seq >= expected)
                        .order_by(AuditEvent.chain_seq)
                        .limit(BATCH)
                    )
                ).scalars()
            )
        for event in events:
            if event.chain_seq != expected:
                return ChainReport(expected - 1, await pending(ctx), event.id, "missing")
            mac = event_mac(key, previous, expected, event)
            if not hmac.compare_digest(mac, event.chain_mac or ""):
                return ChainReport(expected - 1, await pending(ctx), event.id, "altered")
            previous, expected = event.chain_mac or "", expected + 1
        if len(events) < BATCH:
            break
    sealed = expected - 1
    head = _recorded_head(await last_done(ctx, JOB))
    if head is not None and (head[0] > sealed or (head[0] == sealed and head[1] != previous[:52])):
        return ChainReport(sealed, await pending(ctx), None, "truncated")
    return ChainReport(sealed, await pending(ctx))


def _recorded_head(done: str | None) -> tuple[int, str] | None:
    if not done or ":" not in done:
        return None
    seq, _, mac = done.partition(":")
    return (int(seq), mac) if seq.isdigit() else None
