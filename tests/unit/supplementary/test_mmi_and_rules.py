"""Keypad codes parsed as TS 22.030 defines them, and the barring and forwarding rules as
call set-up applies them."""

from __future__ import annotations

import pytest

from yuntong.calls.causes import cause_for
from yuntong.core.errors import YuntongError
from yuntong.supplementary import barring, clip, forwarding, mmi
from yuntong.supplementary.profile import Profile


@pytest.mark.parametrize(
    ("dialled", "procedure", "code", "args"),
    [
        ("*21*13912345678#", "activate", "21", ("13912345678",)),
        ("**21*13912345678#", "activate", "21", ("13912345678",)),
        ("#21#", "deactivate", "21", ()),
        ("##21#", "erase", "21", ()),
        ("*#21#", "interrogate", "21", ()),
        ("*67*13912345678#", "activate", "67", ("13912345678",)),
        ("*61*13912345678*15#", "activate", "61", ("13912345678", "15")),
        ("*61*13912345678**15#", "activate", "61", ("13912345678", "", "15")),
        ("*62*13912345678#", "activate", "62", ("13912345678",)),
        ("#002#", "deactivate", "002", ()),
        ("*33*1234#", "activate", "33", ("1234",)),
        ("#331*1234#", "deactivate", "331", ("1234",)),
        ("*#35#", "interrogate", "35", ()),
        ("**03*330*1234*5678*5678#", "register", "03", ("330", "1234", "5678", "5678")),
        (" *30# ", "activate", "30", ()),
        ("#31#", "deactivate", "31", ()),
    ],
)
def test_keypad_codes_parse(dialled: str, procedure: str, code: str, args: tuple[str, ...]) -> None:
    assert mmi.parse(dialled) == mmi.Mmi(procedure, code, args)


@pytest.mark.parametrize("dialled", ["13912345678", "*21*139", "21#", "*#", "*abc#", "*1#"])
def test_what_is_no_keypad_code_is_refused(dialled: str) -> None:
    with pytest.raises(YuntongError) as refused:
        mmi.parse(dialled)
    assert refused.value.code == "mmi_unknown"


def test_clir_prefixes_withhold_or_show_for_one_call() -> None:
    assert clip.split_prefix("#31#13912345678") == ("13912345678", True)
    assert clip.split_prefix("*31#13912345678") == ("13912345678", False)
    assert clip.split_prefix("13912345678") == ("13912345678", None)
    always = Profile(clir_mode="always")
    assert clip.check_withheld(always, None) is True
    assert clip.check_withheld(always, False) is False
    assert clip.check_withheld(Profile(clir_mode="temporary"), None) is False
    with pytest.raises(YuntongError) as refused:
        clip.check_withheld(Profile(), True)
    assert refused.value.code == "service_not_ordered"


def test_outgoing_barring() -> None:
    assert barring.outgoing_barred(Profile(), "+8613912345678") is None
    assert barring.outgoing_barred(Profile(bar_outgoing=True), None) == "barred_outgoing"
    international = Profile(bar_international=True)
    assert barring.outgoing_barred(international, "+8613912345678") is None
    assert barring.outgoing_barred(international, "+85291234567") == "barred_international"
    assert cause_for("rejected", "barred_international") == 52


def test_incoming_barring() -> None:
    number = "+8613912345678"
    assert barring.incoming_barred(Profile(), number, withheld=False) is None
    assert barring.incoming_barred(Profile(bar_incoming=True), number, False) == "barred_incoming"
    anonymous = Profile(bar_anonymous=True)
    assert barring.incoming_barred(anonymous, number, True) == "anonymous_rejected"
    assert barring.incoming_barred(anonymous, None, False) == "anonymous_rejected"
    assert barring.incoming_barred(anonymous, number, False) is None
    black = Profile(incoming_list_mode="blacklist", incoming_list=(number,))
    assert barring.incoming_barred(black, number, False) == "barred_incoming"
    assert barring.incoming_barred(black, "+8613900000000", False) is None
    white = Profile(incoming_list_mode="whitelist", incoming_list=(number,))
    assert barring.incoming_barred(white, number, False) is None
    assert barring.incoming_barred(white, None, False) == "barred_incoming"


def test_which_forwarding_an_ending_calls_for() -> None:
    assert forwarding.kind_for(("busy", "in_call")) == "cfb"
    assert forwarding.kind_for(("busy", "dnd")) == "cfb"
    assert forwarding.kind_for(("unreachable", "offline")) == "cfnrc"
    # a block must look like offline to the caller, but is never forwarded round
    assert forwarding.kind_for(("unreachable", "blocked")) is None
    assert forwarding.kind_for(None) is None
    assert cause_for("unreachable", "forwarding_loop") == 25
