"""Keypad codes (MMI, 3GPP TS 22.030) for the supplementary services, parsed on the server:
the dial pad sends what was dialled, :func:`do_mmi` does it and says what it did.

``*SC*…#`` activates (registers), ``#SC#`` deactivates, ``*#SC#`` interrogates; ``**03*330*
old*new*new#`` changes the barring PIN. Service codes: 21 CFU, 67 CFB, 61 CFNRy
(``*61*number*timer#``), 62 CFNRc, 002 all forwarding (off only), 30 CLIP, 31 CLIR (``*31#``
shows the number, ``#31#`` withholds it on every call), 33 barring of all outgoing, 331 of
outgoing international, 35 of all incoming (barring codes carry the PIN: ``*33*PIN#``),
330 all barring (off only), 43 call waiting (``*43#`` on, ``#43#`` off, ``*#43#`` ask; TS
22.083 / 24.083).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from yuntong.core.context import Context
from yuntong.core.errors import YuntongError
from yuntong.supplementary import pin
from yuntong.supplementary.profile import FORWARDINGS, Profile, do_set_services, profile_of

_CODE = re.compile(r"^(\*\*|\*#|\*|##|#)(\d{2,3})((?:\*[^*#]*)*)#$")
FORWARDING_CODES = {"21": "cfu", "67": "cfb", "61": "cfnry", "62": "cfnrc"}
BARRING_CODES = {"33": "bar_outgoing", "331": "bar_international", "35": "bar_incoming"}
ALL_FORWARDING = "002"
ALL_BARRING = "330"
PIN_CHANGE = "03"
CALL_WAITING = "43"


@dataclass(frozen=True)
class Mmi:
    procedure: str  # activate | deactivate | interrogate | register | erase
    code: str  # the service code
    args: tuple[str, ...]  # the supplementary information, in order


_PROCEDURES = {"*": "activate", "#": "deactivate", "*#": "interrogate", "**": "register"}


def parse(text: str) -> Mmi:
    """The request a keypad code makes; ``mmi_unknown`` for what is no such code."""
    found = _CODE.match(text.strip().replace(" ", ""))
    if found is None:
        raise YuntongError("mmi_unknown", dialled=text.strip()[:32])
    prefix, code, rest = found.groups()
    procedure = _PROCEDURES.get(prefix, "erase")
    args = tuple(rest.split("*")[1:]) if rest else ()
    if procedure == "register" and code != PIN_CHANGE:
        procedure = "activate"  # **21*number# registers and activates, as *21*number#
    return Mmi(procedure, code, args)


async def do_mmi(ctx: Context, user_id: int, text: str) -> dict[str, Any]:
    """Do what the keypad code asks; ``{service, procedure, active, profile}`` (``active``:
    the service is on after it, or for an interrogation)."""
    mmi = parse(text)
    if mmi.code == PIN_CHANGE:
        return await _change_pin(ctx, user_id, mmi)
    if mmi.code in FORWARDING_CODES or mmi.code == ALL_FORWARDING:
        return await _forwarding(ctx, user_id, mmi)
    if mmi.code in BARRING_CODES or mmi.code == ALL_BARRING:
        return await _barring(ctx, user_id, mmi)
    if mmi.code in ("30", "31"):
        return await _caller_id(ctx, user_id, mmi)
    if mmi.code == CALL_WAITING:
        return await _call_waiting(ctx, user_id, mmi)
    raise YuntongError("mmi_unknown", dialled=text.strip()[:32])


def _answer(service: str, mmi: Mmi, active: bool, profile: Profile) -> dict[str, Any]:
    return {
        "service": service,
        "procedure": mmi.procedure,
        "active": active,
        "profile": profile.public(),
    }


async def _forwarding(ctx: Context, user_id: int, mmi: Mmi) -> dict[str, Any]:
    if mmi.code == ALL_FORWARDING:
        if mmi.procedure not in ("deactivate", "erase"):
            raise YuntongError("mmi_unknown", dialled=mmi.code)
        profile = await do_set_services(ctx, user_id, dict.fromkeys(FORWARDINGS))
        return _answer("forwarding", mmi, False, profile)
    kind = FORWARDING_CODES[mmi.code]
    if mmi.procedure == "interrogate":
        profile = await profile_of(ctx, user_id)
        return _answer(kind, mmi, profile.forwarding_to(kind) is not None, profile)
    if mmi.procedure in ("deactivate", "erase"):
        profile = await do_set_services(ctx, user_id, {kind: None})
        return _answer(kind, mmi, False, profile)
    if not mmi.args or not mmi.args[0]:
        raise YuntongError("validation_failed", fields={"number": "required"})
    changes: dict[str, Any] = {kind: mmi.args[0]}
    timer = [a for a in mmi.args[1:] if a]  # *61*number*timer# or *61*number*bs*timer#
    if kind == "cfnry" and timer:
        if not timer[-1].isdigit():
            raise YuntongError("validation_failed", fields={"cfnry_timer_s": "invalid"})
        changes["cfnry_timer_s"] = int(timer[-1])
    profile = await do_set_services(ctx, user_id, changes)
    return _answer(kind, mmi, True, profile)


async def _barring(ctx: Context, user_id: int, mmi: Mmi) -> dict[str, Any]:
    if mmi.procedure == "interrogate":
        profile = await profile_of(ctx, user_id)
        fields = BARRING_CODES.values() if mmi.code == ALL_BARRING else [BARRING_CODES[mmi.code]]
        return _answer("barring", mmi, any(getattr(profile, f) for f in fields), profile)
    code = mmi.args[0] if mmi.args else None
    if mmi.code == ALL_BARRING:
        if mmi.procedure == "activate":
            raise YuntongError("mmi_unknown", dialled=mmi.code)
        changes = dict.fromkeys(BARRING_CODES.values(), False)
    else:
        changes = {BARRING_CODES[mmi.code]: mmi.procedure == "activate"}
    profile = await do_set_services(ctx, user_id, changes, barring_pin=code)
    return _answer(
        BARRING_CODES.get(mmi.code, "barring"), mmi, mmi.procedure == "activate", profile
    )


async def _caller_id(ctx: Context, user_id: int, mmi: Mmi) -> dict[str, Any]:
    if mmi.code == "30":
        if mmi.procedure == "interrogate":
            profile = await profile_of(ctx, user_id)
        else:
            profile = await do_set_services(ctx, user_id, {"clip": mmi.procedure == "activate"})
        return _answer("clip", mmi, profile.clip, profile)
    if mmi.procedure == "interrogate":
        profile = await profile_of(ctx, user_id)
    else:  # *31# shows the number by default, #31# withholds it on every call
        mode = "temporary" if mmi.procedure == "activate" else "always"
        profile = await do_set_services(ctx, user_id, {"clir_mode": mode})
    return _answer("clir", mmi, profile.clir_mode == "always", profile)


async def _call_waiting(ctx: Context, user_id: int, mmi: Mmi) -> dict[str, Any]:
    if mmi.procedure == "interrogate":
        profile = await profile_of(ctx, user_id)
    elif mmi.procedure in ("activate", "deactivate", "erase"):
        on = mmi.procedure == "activate"
        profile = await do_set_services(ctx, user_id, {"waiting": on})
    else:
        raise YuntongError("mmi_unknown", dialled=mmi.code)
    return _answer("waiting", mmi, profile.waiting, profile)


async def _change_pin(ctx: Context, user_id: int, mmi: Mmi) -> dict[str, Any]:
    # **03*330*old*new*new# (or **03**old*new*new#)
    args = list(mmi.args)
    if len(args) != 4 or args[0] not in ("", "330") or args[2] != args[3]:
        raise YuntongError("barring_pin_invalid")
    await pin.do_set_pin(ctx, user_id, args[1] or None, args[2])
    return _answer("barring_pin", mmi, True, await profile_of(ctx, user_id))
