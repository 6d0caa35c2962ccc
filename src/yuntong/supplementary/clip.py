"""Calling line identification (3GPP TS 22.081): what the callee is shown of the caller.

CLIP lets the callee see the calling number and its attribution (province and city, from the
number's ``phone_numbers`` row); CLIR lets the caller withhold it, always or per call (the
``clir`` flag of ``call.invite``, or ``#31#`` before the number; ``*31#`` shows it for one
call when it is withheld always). A withheld caller is shown as anonymous, whatever CLIP.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.numbers.models import PhoneNumber
from yuntong.supplementary.profile import Profile

WITHHOLD_PREFIX = "#31#"
SHOW_PREFIX = "*31#"


def split_prefix(dialled: str) -> tuple[str, bool | None]:
    """``(number, withhold)`` of what was dialled: ``#31#`` withholds, ``*31#`` shows, None:
    neither was dialled."""
    text = dialled.strip()
    if text.startswith(WITHHOLD_PREFIX):
        return text[len(WITHHOLD_PREFIX) :], True
    if text.startswith(SHOW_PREFIX):
        return text[len(SHOW_PREFIX) :], False
    return dialled, None


def check_withheld(caller: Profile, asked: bool | None) -> bool:
    """Whether the caller's identity is withheld on this call: ``asked`` per call (which needs
    CLIR activated: ``service_not_ordered`` otherwise), else CLIR's permanent mode."""
    if asked is None:
        return caller.clir_mode == "always"
    if asked and not caller.clir_mode:
        raise YuntongError("service_not_ordered", service="clir")
    return asked


async def presented(
    ctx: Context,
    callee: Profile,
    caller: dict[str, Any],
    calling_number: str | None,
    withheld: bool,
) -> dict[str, Any]:
    """The ``from`` (and ``from_number``) of a ``call.incoming``."""
    if withheld:
        anonymous = {"user_id": None, "username": None, "display_name": None, "anonymous": True}
        return {"from": anonymous}
    shown: dict[str, Any] = {"from": caller}
    if callee.clip and calling_number is not None:
        shown["from_number"] = await attribution(ctx, calling_number)
    return shown


async def attribution(ctx: Context, e164: str) -> dict[str, Any]:
    query = select(
        PhoneNumber.province, PhoneNumber.city, PhoneNumber.province_en, PhoneNumber.city_en
    ).where(PhoneNumber.e164 == e164)
    async with ctx.db.connection() as conn:
        row = (await conn.execute(query)).first()
    province, city, province_en, city_en = row if row is not None else (None,) * 4
    return {
        "number": e164,
        "province": province,
        "city": city,
        "province_en": province_en,
        "city_en": city_en,
    }
