"""The credit gate calls are handed at start-up: calls do not import billing.

Billing's credit control (``yuntong.billing.ledger.credit``) satisfies :class:`CreditGate`;
``yuntong.services.build_context`` hands it over with :func:`gate_calls_with`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from yuntong.core.context import Context, Piece, Slot


class CreditGate(Protocol):
    """What the call engine asks of credit control."""

    async def check_may_start(self, ctx: Context, user_id: int, usage_type: str) -> int | None:
        """Raise when ``user_id`` may not start ``usage_type`` now; else the longest it may
        last in seconds (prepaid), or None when unlimited."""
        ...

    def note_call_ended(
        self,
        ctx: Context,
        user_id: int,
        call_id: str,
        usage_type: str,
        seconds: int,
        started_at: datetime,
    ) -> None:
        """A call ``user_id`` pays for ended with ``seconds`` billable (not rated yet)."""
        ...

    def forget_call(self, ctx: Context, user_id: int, call_id: str) -> None:
        """The end of a noted call could not be written."""
        ...


CREDIT_GATE = Piece(
    "calls.credit_gate",
    "node-owned live state",
    lambda ctx: Slot[CreditGate](),
    "the credit check every invite passes and where ended calls are noted until rated: "
    "billing's credit control, handed over when the context is built",
)


def gate_calls_with(ctx: Context, gate: CreditGate) -> None:
    """Hand the call engine its credit gate (``yuntong.services``)."""
    ctx.services.get(CREDIT_GATE).value = gate


def credit_gate(ctx: Context) -> CreditGate:
    gate = ctx.services.get(CREDIT_GATE).value
    assert gate is not None, "calls.gate.gate_calls_with was not called"
    return gate
