"""Money as integer fen (0.01 CNY): parsing, rounding half-up once, and display."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

CURRENCY: Final = "CNY"
# the largest single amount anyone may enter: 100 million yuan; anything above is a typo or abuse
MAX_AMOUNT_FEN: Final = 10_000_000_000


def round_fen(value: Decimal) -> int:
    """Round an exact amount in fen to a whole fen, half-up (the only rounding a charge gets)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_yuan(text: str | int | float | Decimal) -> int:
    """``"12.34"`` → 1234 fen. Refuses fractions of a fen, non-numbers and infinities."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc
    if not value.is_finite():
        raise ValueError("not a finite number")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError("more than two decimal places")
    return int(fen)


def check_amount(fen: int, *, allow_zero: bool = False, allow_negative: bool = False) -> int:
    """The bounds every amount a person types must respect; returns ``fen`` when it is sound."""
    if abs(fen) > MAX_AMOUNT_FEN:
        raise ValueError("amount too large")
    if fen < 0 and not allow_negative:
        raise ValueError("amount must not be negative")
    if fen == 0 and not allow_zero:
        raise ValueError("amount must not be zero")
    return fen


def format_yuan(fen: int) -> str:
    """1234 → ``"12.34"``; -5 → ``"-0.05"``."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{part:02d}"
