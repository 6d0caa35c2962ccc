"""Usage types and rating arithmetic: increments, allowances and rounding, free of storage.

A domain that sells something metered declares its usage types here (code, zh-CN and en
names); rating, allowances, statements and the price list then handle it without change.

A rate is per minute in fen (fractions allowed), with its increment rule ``first/next``
seconds (60/60, 6/6, 1/1) and an optional connect fee. A call is billed in increments;
the allowance is used first, in billed seconds; the rest is charged, plus the connect fee
when any of the call is charged, and the amount is rounded once, half-up, to the fen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from yuntong.core.errors import YuntongError
from yuntong.core.money import MAX_AMOUNT_FEN, round_fen

INCREMENT_RE = re.compile(r"^([1-9]\d{0,3})/([1-9]\d{0,3})$")
# the longest single usage record rated: 31 days; anything longer is a malformed record
MAX_QUANTITY_S = 31 * 24 * 3600


@dataclass(frozen=True)
class UsageType:
    code: str
    name_zh: str
    name_en: str
    # False: its producer prices it (outside calls, by destination prefix), never a package
    priced_by_package: bool = True


# what usage is billed, with its names (billing/strings.py declares them as strings)
USAGE_TYPES: Final[dict[str, UsageType]] = {
    t.code: t
    for t in (
        UsageType("call.audio", "语音通话", "Audio call"),
        UsageType("call.video", "视频通话", "Video call"),
        UsageType("meeting.video", "视频会议（参会人分钟）", "Video meeting (participant-minutes)"),
        UsageType("meeting.audio", "音频会议（参会人分钟）", "Audio meeting (participant-minutes)"),
        # priced by the tariffs package (destination prefix), not by the package: see
        # ledger/usage.py do_record_priced_usage
        UsageType("call.outside", "外线通话（公用电话网）", "Outside call (public network)", False),
    )
}


# what a package may give a rate or an allowance for
PACKAGE_USAGE_TYPES: Final[tuple[str, ...]] = tuple(
    code for code, usage in USAGE_TYPES.items() if usage.priced_by_package
)


def check_usage_type(code: str) -> None:
    if code not in USAGE_TYPES:
        raise YuntongError("malformed_usage", reason=f"unknown usage type {code!r}")


@dataclass(frozen=True)
class Rate:
    per_minute_fen: Decimal
    first_s: int
    next_s: int
    connect_fee_fen: int = 0

    @property
    def increment(self) -> str:
        return f"{self.first_s}/{self.next_s}"

    @property
    def chargeable(self) -> bool:
        return self.per_minute_fen > 0 or self.connect_fee_fen > 0

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> Rate:
        """From the stored/API form; raises ``ValueError`` naming what is wrong."""
        match = INCREMENT_RE.match(str(spec.get("increment", "")))
        if match is None:
            raise ValueError("increment must look like 60/60, 6/6 or 1/1")
        try:
            per_minute = Decimal(str(spec.get("per_minute_fen", "")))
        except InvalidOperation as exc:
            raise ValueError("per_minute_fen must be a number") from exc
        if not per_minute.is_finite() or per_minute < 0 or per_minute > 1_000_000:
            raise ValueError("per_minute_fen must be between 0 and 1000000")
        if per_minute != per_minute.quantize(Decimal("0.0001")):
            raise ValueError("per_minute_fen has more than four decimal places")
        connect = spec.get("connect_fee_fen", 0)
        if not isinstance(connect, int) or isinstance(connect, bool) or not 0 <= connect <= 100_000:
            raise ValueError("connect_fee_fen must be a whole number of fen, 0 to 100000")
        return cls(per_minute, int(match[1]), int(match[2]), connect)

    def to_spec(self) -> dict[str, Any]:
        return {
            "per_minute_fen": str(self.per_minute_fen),
            "increment": self.increment,
            "connect_fee_fen": self.connect_fee_fen,
        }


@dataclass(frozen=True)
class Rated:
    billed_s: int  # duration rounded up to the increments
    allowance_s: int  # of which covered by the allowance
    amount_fen: int


def billed_seconds(duration_s: int, rate: Rate) -> int:
    """Round a duration up to the increments: 61 s at 60/60 → 120 s; at 6/6 → 66 s."""
    if duration_s <= 0:
        return 0
    if duration_s <= rate.first_s:
        return rate.first_s
    rest = duration_s - rate.first_s
    return rate.first_s + -(-rest // rate.next_s) * rate.next_s


def rate_usage(duration_s: int, rate: Rate, allowance_left_s: int) -> Rated:
    if not 0 <= duration_s <= MAX_QUANTITY_S:
        raise ValueError("duration out of range")
    billed = billed_seconds(duration_s, rate)
    covered = min(billed, max(0, allowance_left_s))
    charged_s = billed - covered
    if charged_s == 0:
        return Rated(billed, covered, 0)
    exact = Decimal(rate.connect_fee_fen) + rate.per_minute_fen * charged_s / 60
    return Rated(billed, covered, min(round_fen(exact), MAX_AMOUNT_FEN))


def affordable_seconds(available_fen: int, rate: Rate, allowance_left_s: int) -> int | None:
    """How long a call may last on ``available_fen`` (prepaid); ``None`` when it costs nothing.

    Whole increments only: the call ends before it would cost more than is available."""
    if not rate.chargeable:
        return None
    free = min(max(0, allowance_left_s), MAX_QUANTITY_S)
    money = available_fen - rate.connect_fee_fen
    if money <= 0 or rate.per_minute_fen == 0:
        return free
    paid = int(Decimal(money) * 60 / rate.per_minute_fen)
    total = min(free + paid, MAX_QUANTITY_S)  # a month on the phone is the longest we rate
    # round down to the increment grid so the last increment is fully paid for
    if total < rate.first_s:
        return free
    grid = rate.first_s + (total - rate.first_s) // rate.next_s * rate.next_s
    return max(free, grid)
