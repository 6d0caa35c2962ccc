"""Numbers of the inventory for tests: rows as the numbers service writes them (a block with its
legitimate source, a number in a state, ringing a user)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from typing import Any, Protocol

from yuntong.core.context import Context
from yuntong.numbers.models import NumberBlock, NumberState, PhoneNumber

# mobile numbers no other test of this run uses (139 + 8 digits: valid for phonenumbers)
_serial = itertools.count(random.randrange(10_000_000, 90_000_000, 1_000))


class HasContext(Protocol):
    async def context(self) -> Context: ...


def number_row(
    national: str, block_id: int, user_id: int | None, state: NumberState, now: datetime
) -> dict[str, Any]:
    """The ``phone_numbers`` columns of a mobile number of block ``block_id``."""
    return {
        "e164": f"+86{national}",
        "national": national,
        "national_reversed": national[::-1],
        "kind": "mobile",
        "block_id": block_id,
        "carrier": "中国移动",
        "current_carrier": "中国移动",
        "state": state,
        "state_changed_at": now,
        "user_id": user_id,
        "holder_user_id": user_id,
        "assigned_at": now if state == NumberState.ASSIGNED else None,
        "created_at": now,
    }


async def number_for(
    server: HasContext, user_id: int | None, state: NumberState = NumberState.ASSIGNED
) -> str:
    """A mobile number of the inventory in ``state``, ringing ``user_id``; its national form."""
    national = f"139{next(_serial):08d}"
    now = datetime.now(UTC)
    async with (await server.context()).db.session() as s:
        block = NumberBlock(carrier="中国移动", source_ref="test allocation", created_at=now)
        s.add(block)
        await s.flush()
        s.add(PhoneNumber(**number_row(national, block.id, user_id, state, now)))
    return national
