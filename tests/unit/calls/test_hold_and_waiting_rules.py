"""Hold is for answered calls only; call waiting's keypad codes; a rejected waiting call is user
busy (Q.850 17) and calls for forwarding on busy."""

from __future__ import annotations

import pytest

from yuntong.calls.causes import USER_BUSY, cause_for
from yuntong.calls.machine import check_may_hold
from yuntong.calls.models import CallState
from yuntong.core.errors import YuntongError
from yuntong.supplementary import forwarding, mmi
from yuntong.supplementary.products import BY_SERVICE
from yuntong.supplementary.profile import OFF, services_switched_on


def test_only_an_answered_call_may_be_held_or_resumed() -> None:
    for state in (CallState.ANSWERED, CallState.CONNECTED):
        check_may_hold(state)
    for state in (CallState.RINGING, CallState.ENDED):
        with pytest.raises(YuntongError) as exc:
            check_may_hold(state)
        assert exc.value.code == "invalid_transition"


@pytest.mark.parametrize(
    ("dialled", "procedure"),
    [("*43#", "activate"), ("#43#", "deactivate"), ("*#43#", "interrogate"), ("**43#", "activate")],
)
def test_call_waiting_keypad_codes(dialled: str, procedure: str) -> None:
    parsed = mmi.parse(dialled)
    assert (parsed.procedure, parsed.code) == (procedure, mmi.CALL_WAITING)


def test_a_rejected_waiting_call_is_user_busy_and_forwards_on_busy() -> None:
    assert cause_for("busy", "waiting_rejected") == USER_BUSY
    assert forwarding.kind_for(("busy", "in_call")) == "cfb"


def test_call_waiting_is_an_orderable_product_switched_on_like_the_others() -> None:
    product = BY_SERVICE["waiting"]
    assert (product.code, product.name_zh) == ("vas_call_waiting", "呼叫等待")
    assert product.monthly_fee_fen > 0
    assert services_switched_on(OFF, {"waiting": True}) == {"waiting"}
    assert services_switched_on(OFF, {"waiting": False}) == set()
