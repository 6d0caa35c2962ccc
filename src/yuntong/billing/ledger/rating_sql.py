"""Rating on PostgreSQL, set-wise: one statement rates a whole batch inside the database.

The rules are those of :mod:`yuntong.billing.catalog.tariff` and
:func:`yuntong.billing.ledger.rating.rate_record` (which rate on SQLite and check this
statement in the tests), written once more in SQL:

- the package in force when the usage started (latest subscription to a package, or the
  default package), and its price version on the business-zone day (latest effective date,
  latest correction), come from the catalog snapshot, passed in as arrays;
- the cycle is found from the account's close day in the business time zone;
- allowances are used in id order per (account, usage type, cycle), after what was used
  before (the running total in ``allowance_use``, or the ledger the first time), by a window
  aggregate (``yuntong_allowance_walk``, migration 0003), so a package change in the middle
  of a cycle (a different allowance from one record to the next) is exact;
- billed seconds are rounded up to the increments; the charged part is priced, plus the
  connect fee, and rounded once, half-up (``round`` of a positive numeric), capped like
  :data:`yuntong.core.money.MAX_AMOUNT_FEN`.

Nothing per record crosses to Python: the statement answers with one row per account and
usage type rated.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.billing.catalog.catalog import Catalog
from yuntong.billing.catalog.tariff import MAX_QUANTITY_S
from yuntong.billing.models import ProductKind
from yuntong.core.money import MAX_AMOUNT_FEN


@dataclass(frozen=True)
class TariffArrays:
    """The catalog snapshot as the statement's parameters (a few rows per price version)."""

    packages: list[int]
    default_package: int | None
    versions: dict[str, list[Any]]
    rates: dict[str, list[Any]]


def tariff_arrays(catalog: Catalog) -> TariffArrays:
    versions: dict[str, list[Any]] = {"v_product": [], "v_from": [], "v_to": [], "v_price": []}
    rates: dict[str, list[Any]] = defaultdict(list)
    for product_id, prices in catalog.prices.items():
        # the version in force from each effective date: the latest correction of that date
        winners: dict[date, int] = {}
        for price in prices:
            winners[price.effective_on] = max(winners.get(price.effective_on, 0), price.id)
        days = sorted(winners)
        for i, day in enumerate(days):
            versions["v_product"].append(product_id)
            versions["v_from"].append(day)
            versions["v_to"].append(days[i + 1] if i + 1 < len(days) else None)
            versions["v_price"].append(winners[day])
        for price in prices:
            for usage_type in price.rates:
                rate = catalog.rate(price, usage_type)
                if rate is None:
                    continue
                rates["r_price"].append(price.id)
                rates["r_type"].append(usage_type)
                rates["r_per_minute"].append(rate.per_minute_fen)
                rates["r_first"].append(rate.first_s)
                rates["r_next"].append(rate.next_s)
                rates["r_connect"].append(rate.connect_fee_fen)
                rates["r_allowance"].append(int(price.allowances.get(usage_type, 0)))
                rates["r_spec"].append(json.dumps(rate.to_spec()))
    for name in ("price", "type", "per_minute", "first", "next", "connect", "allowance", "spec"):
        rates.setdefault(f"r_{name}", [])
    default = catalog.default_package
    return TariffArrays(
        packages=[p.id for p in catalog.products.values() if p.kind == ProductKind.PACKAGE],
        default_package=default.id if default else None,
        versions=versions,
        rates=dict(rates),
    )


_RATE_BATCH = text(
    """
WITH
batch AS MATERIALIZED (
    SELECT u.*, a.close_day, (u.started_at AT TIME ZONE :tz)::date AS day
    FROM (
        -- the next pending records, along the primary key (nothing else is read)
        SELECT u.id, u.account_id, u.usage_type, u.quantity_s, u.started_at, u.other_party
        FROM usage_records u
        WHERE u.id > :after AND u.account_id % :parts = :part
          AND NOT EXISTS (
              -- the redundant bound lets the planner skip the entries of everything rated
              SELECT 1 FROM ledger_entries e WHERE e.usage_id = u.id AND e.usage_id > :after)
        ORDER BY u.id
        LIMIT :batch
    ) u
    JOIN billing_accounts a ON a.id = u.account_id
),
located AS MATERIALIZED (
    SELECT b.*,
           CASE
               WHEN b.close_day = 1 THEN (date_trunc('month', b.day) + interval '1 month')::date
               WHEN extract(day FROM b.day) < b.close_day THEN
                   make_date(extract(year FROM b.day)::int, extract(month FROM b.day)::int,
                             b.close_day)
               ELSE (make_date(extract(year FROM b.day)::int, extract(month FROM b.day)::int,
                               b.close_day) + interval '1 month')::date
           END AS cycle_end_day,
           coalesce((
               SELECT s.product_id FROM subscriptions s
               WHERE s.account_id = b.account_id
                 AND s.product_id = ANY(CAST(:packages AS integer[]))
                 AND s.starts_at <= b.started_at
                 AND (s.ends_at IS NULL OR b.started_at < s.ends_at)
               ORDER BY s.starts_at DESC, s.id DESC
               LIMIT 1
           ), CAST(:default_package AS integer)) AS product_id
    FROM batch b
    WHERE b.quantity_s BETWEEN 0 AND :max_quantity
),
versions AS (
    SELECT * FROM unnest(CAST(:v_product AS integer[]), CAST(:v_from AS date[]),
                         CAST(:v_to AS date[]), CAST(:v_price AS integer[]))
        AS v(product_id, from_day, to_day, price_id)
),
rates AS (
    SELECT * FROM unnest(CAST(:r_price AS integer[]), CAST(:r_type AS text[]),
                         CAST(:r_per_minute AS numeric[]), CAST(:r_first AS integer[]),
                         CAST(:r_next AS integer[]), CAST(:r_connect AS integer[]),
                         CAST(:r_allowance AS integer[]), CAST(:r_spec AS json[]))
        AS r(price_id, usage_type, per_minute, first_s, next_s, connect_fee, allowance_s, spec)
),
tariffed AS MATERIALIZED (
    SELECT l.id, l.account_id, l.usage_type, l.quantity_s, l.started_at, l.other_party,
           v.price_id, r.per_minute, r.connect_fee, r.spec,
           r.price_id IS NOT NULL AS has_rate,
           coalesce(r.allowance_s, 0) AS allowance_s,
           ((l.cycle_end_day - interval '1 month')::timestamp AT TIME ZONE :tz) AS cycle_start,
           (l.cycle_end_day::timestamp AT TIME ZONE :tz) AS cycle_end,
           CASE
               WHEN r.price_id IS NULL THEN l.quantity_s
               WHEN l.quantity_s = 0 THEN 0
               WHEN l.quantity_s <= r.first_s THEN r.first_s
               ELSE r.first_s + (l.quantity_s - r.first_s + r.next_s - 1) / r.next_s * r.next_s
           END AS billed_s
    FROM located l
    LEFT JOIN versions v
           ON v.product_id = l.product_id AND l.day >= v.from_day
          AND (v.to_day IS NULL OR l.day < v.to_day)
    LEFT JOIN rates r ON r.price_id = v.price_id AND r.usage_type = l.usage_type
),
groups AS MATERIALIZED (
    -- allowance already used in each cycle a record of the batch falls in: the running total
    -- (allowance_use), or the first time, the sum of the account's entries in the cycle
    SELECT g.*, coalesce(au.used_s, (
        SELECT sum(e.allowance_s) FROM ledger_entries e
        WHERE e.account_id = g.account_id AND e.usage_type = g.usage_type
          AND e.allowance_s > 0 AND e.kind = 'usage'
          AND e.occurred_at >= g.cycle_start AND e.occurred_at < g.cycle_end
    ), 0) AS used
    FROM (
        SELECT account_id, usage_type, cycle_start, cycle_end FROM tariffed
        WHERE has_rate GROUP BY account_id, usage_type, cycle_start, cycle_end
        HAVING max(allowance_s) > 0
    ) g
    LEFT JOIN allowance_use au
           ON au.account_id = g.account_id AND au.usage_type = g.usage_type
          AND au.cycle_start = g.cycle_start
),
walked AS MATERIALIZED (
    -- allowance used after each record, in id order per group (the aggregate of migration
    -- 0003 carries the running use: max(used, min(used + billed, allowance in force)), which
    -- stays exact when the package changes in the middle of a cycle)
    SELECT t.id, t.account_id, t.usage_type, t.cycle_start,
           coalesce(g.used, 0)::bigint AS prior,
           g.account_id IS NOT NULL AS tracked,
           yuntong_allowance_walk(coalesce(g.used, 0)::bigint, t.billed_s::bigint,
                                  t.allowance_s::bigint) OVER w AS used_after
    FROM tariffed t
    LEFT JOIN groups g USING (account_id, usage_type, cycle_start)
    WHERE t.has_rate
    WINDOW w AS (PARTITION BY t.account_id, t.usage_type, t.cycle_start ORDER BY t.id)
),
covered AS (
    SELECT id, used_after - coalesce(lag(used_after) OVER (
               PARTITION BY account_id, usage_type, cycle_start ORDER BY id), prior) AS covered
    FROM walked
),
saved AS (
    -- the running totals after this batch: the use after each group's last record
    INSERT INTO allowance_use (account_id, usage_type, cycle_start, used_s)
    SELECT DISTINCT ON (account_id, usage_type, cycle_start) account_id, usage_type,
           cycle_start, used_after
    FROM walked
    WHERE tracked
    ORDER BY account_id, usage_type, cycle_start, id DESC
    ON CONFLICT (account_id, usage_type, cycle_start) DO UPDATE SET used_s = excluded.used_s
),
rated AS (
    SELECT t.*, coalesce(c.covered, 0) AS covered
    FROM tariffed t LEFT JOIN covered c ON c.id = t.id
),
inserted AS (
    INSERT INTO ledger_entries (account_id, kind, amount_fen, occurred_at, posted_at, usage_id,
                                usage_type, quantity_s, billed_s, allowance_s, price_id, detail,
                                idempotency_key)
    SELECT account_id, 'usage',
           CASE WHEN NOT has_rate OR billed_s = covered THEN 0
                ELSE least(round(connect_fee + per_minute * (billed_s - covered) / 60),
                           :max_amount)::bigint
           END,
           started_at, :now, id, usage_type, quantity_s, billed_s, covered, price_id,
           CASE WHEN has_rate
                THEN json_build_object('rate', spec, 'other_party', other_party)
                ELSE '{}'::json
           END,
           'usage:' || id
    -- no ON CONFLICT: the batch holds only records without an entry, read under the rater
    -- lock, so a duplicate key here is a fault; it fails the batch (and its allowance totals)
    -- instead of being skipped
    FROM rated
    ORDER BY id  -- entries in the order of their records
    RETURNING account_id, usage_type, amount_fen
)
SELECT NULL::integer AS account_id, NULL AS usage_type, count(*) AS n, max(id)::bigint AS amount,
       count(*) FILTER (WHERE quantity_s NOT BETWEEN 0 AND :max_quantity) AS malformed
FROM batch
UNION ALL
SELECT account_id, usage_type, count(*), sum(amount_fen)::bigint, 0
FROM inserted GROUP BY account_id, usage_type
"""
)


@dataclass
class BatchResult:
    seen: int = 0  # pending records read (malformed ones included)
    last_id: int = 0
    malformed: int = 0
    rated: int = 0
    charged: dict[int, int] = field(default_factory=dict)  # account → fen added
    by_type: dict[str, int] = field(default_factory=dict)  # usage type → records rated


async def rate_batch(
    s: AsyncSession,
    arrays: TariffArrays,
    *,
    after: int,
    batch: int,
    part: int = 0,
    parts: int = 1,
    tz: str,
    now: datetime,
) -> BatchResult:
    params: dict[str, Any] = {
        "after": after,
        "batch": batch,
        "part": part,
        "parts": parts,
        "tz": tz,
        "now": now,
        "packages": arrays.packages,
        "default_package": arrays.default_package,
        "max_quantity": MAX_QUANTITY_S,
        "max_amount": MAX_AMOUNT_FEN,
        **arrays.versions,
        **arrays.rates,
    }
    # the CTEs' row estimates are guesses (a few rows where there are thousands): with nested
    # loops allowed, one bad guess joins 50,000 × 50,000 rows; hash joins do not care
    await s.execute(text("SET LOCAL enable_nestloop = off"))
    # and the statistics may be a month old (a ledger planned as empty): a per-group look-up
    # must use its index, never scan the table
    await s.execute(text("SET LOCAL enable_seqscan = off"))
    result = BatchResult()
    charged: dict[int, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    for account_id, usage_type, n, amount, malformed in (
        await s.execute(_RATE_BATCH, params)
    ).all():
        if account_id is None:
            result.seen, result.last_id, result.malformed = n, int(amount or after), malformed
            continue
        charged[account_id] += int(amount)
        by_type[usage_type] += n
        result.rated += n
    result.charged, result.by_type = dict(charged), dict(by_type)
    return result


_ALERTABLE = text(
    """
SELECT a.id,
       CASE WHEN i.fresh THEN (SELECT coalesce(sum(e.amount_fen), 0) FROM ledger_entries e
                               WHERE e.account_id = a.id)
       END
FROM unnest(CAST(:ids AS integer[]), CAST(:fresh AS boolean[])) AS i(id, fresh)
JOIN billing_accounts a ON a.id = i.id
WHERE a.kind = 'postpaid' AND a.credit_limit_fen > 0 AND a.alert_level < 100
"""
)


async def alertable_balances(
    s: AsyncSession, account_ids: Iterable[int], known: Container[int]
) -> dict[int, int | None]:
    """Of ``account_ids``, the postpaid accounts with a credit limit not yet fully used, with
    what each owes (None for those in ``known``, whose balance the caller keeps)."""
    ids = list(account_ids)
    if not ids:
        return {}
    fresh = [a not in known for a in ids]
    rows = await s.execute(_ALERTABLE, {"ids": ids, "fresh": fresh})
    return {a: None if owed is None else int(owed) for a, owed in rows.all()}
