"""The number state machine: which action moves a number from which state to which (CP 1.1).

::

    available ─reserve→ reserved ─assign→ assigned ─release→ quarantined ─recycle→ available
        ▲   └────────────assign (staff)──────────┘   └─port_out→ ported_out (final)
        └──── lapse / cancel ── reserved
    available | reserved | quarantined ─block→ blocked ─unblock→ available

Every move is one conditional ``UPDATE`` (``WHERE state = <from>``), so two customers cannot
both win a number, and writes its ``number_events`` row in the same transaction
(:func:`move_txn`). Whoever moves a number publishes ``numbers.changed`` after committing.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from yuntong.core.errors import YuntongError
from yuntong.numbers.models import NumberEvent, NumberState, PhoneNumber

S = NumberState


class NumberAction(enum.StrEnum):
    RESERVE = "reserve"
    CANCEL = "cancel"  # the customer lets the hold go
    LAPSE = "lapse"  # the hold's time ran out
    ASSIGN = "assign"
    RELEASE = "release"
    RECYCLE = "recycle"  # quarantine over
    BLOCK = "block"
    UNBLOCK = "unblock"
    PORT_OUT = "port_out"


A = NumberAction

TRANSITIONS: Final[dict[tuple[NumberState, NumberAction], NumberState]] = {
    (S.AVAILABLE, A.RESERVE): S.RESERVED,
    (S.RESERVED, A.CANCEL): S.AVAILABLE,
    (S.RESERVED, A.LAPSE): S.AVAILABLE,
    (S.RESERVED, A.ASSIGN): S.ASSIGNED,
    (S.AVAILABLE, A.ASSIGN): S.ASSIGNED,  # staff on a customer's behalf
    (S.ASSIGNED, A.RELEASE): S.QUARANTINED,
    (S.QUARANTINED, A.RECYCLE): S.AVAILABLE,
    (S.AVAILABLE, A.BLOCK): S.BLOCKED,
    (S.RESERVED, A.BLOCK): S.BLOCKED,
    (S.QUARANTINED, A.BLOCK): S.BLOCKED,
    (S.BLOCKED, A.UNBLOCK): S.AVAILABLE,
    (S.ASSIGNED, A.PORT_OUT): S.PORTED_OUT,
}


def check_transition(state: str, action: NumberAction) -> NumberState:
    """The state ``action`` leads to from ``state``; ``number_transition_refused`` if none."""
    target = TRANSITIONS.get((NumberState(state), action))
    if target is None:
        raise YuntongError("number_transition_refused", state=state, action=action.value)
    return target


def event_row(
    number_id: int,
    action: NumberAction | str,
    from_state: str | None,
    to_state: str | None,
    actor_id: int | None,
    now: datetime,
    detail: dict[str, Any],
) -> NumberEvent:
    return NumberEvent(
        number_id=number_id,
        at=now,
        actor_id=actor_id,
        action=str(action),
        from_state=from_state,
        to_state=to_state,
        detail=detail,
    )


async def move_txn(
    s: AsyncSession,
    number: PhoneNumber,
    action: NumberAction,
    actor_id: int | None,
    now: datetime,
    *,
    values: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    also: ColumnElement[bool] | None = None,
) -> bool:
    """Move ``number`` (as read) by ``action``, setting ``values`` too, if it is still in the
    state it was read in (and ``also`` holds); its event in the same transaction. False: someone
    moved it first."""
    before = number.state
    target = check_transition(before, action)
    changes = {"state": target.value, "state_changed_at": now, **(values or {})}
    result = await s.execute(
        update(PhoneNumber)
        .where(PhoneNumber.id == number.id, PhoneNumber.state == before)
        .where(also if also is not None else true())
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    s.add(event_row(number.id, action, before, target, actor_id, now, detail or {}))
    return True
