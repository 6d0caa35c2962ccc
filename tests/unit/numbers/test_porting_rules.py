"""Porting's rules that need no database: the port-in state machine, each check on the losing
carrier's answer, the local network, the authorisation document, and the carriers' signatures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr

from yuntong.config import Settings
from yuntong.core.errors import YuntongError
from yuntong.numbers.carrier import (
    CarrierAnswer,
    Holder,
    SandboxLosingCarrier,
    check_signed,
    signed,
)
from yuntong.numbers.models import PortState
from yuntong.numbers.port_documents import check_document
from yuntong.numbers.port_in import (
    TRANSITIONS,
    PortAction,
    check_answer,
    check_port_number,
    check_port_transition,
    check_same_network,
)
from yuntong.numbers.port_out import code_hash

SETTINGS = Settings(
    database_url="sqlite+aiosqlite://",
    secret_key=SecretStr("unit-secret"),
    numbers_porting_province="广东省",
)
TODAY = date(2026, 12, 7)
GOOD = CarrierAnswer("a1", "PI1", True, True, TODAY - timedelta(days=120), 0)
NOW = datetime(2026, 12, 7, 8, tzinfo=UTC)


def test_a_request_moves_only_along_the_table() -> None:
    assert check_port_transition("submitted", PortAction.CHECK) == PortState.CHECKING
    assert check_port_transition("checking", PortAction.APPROVE) == PortState.APPROVED
    assert check_port_transition("approved", PortAction.COMPLETE) == PortState.COMPLETED
    for state in ("submitted", "checking", "approved"):
        assert check_port_transition(state, PortAction.REJECT) == PortState.REJECTED
    for state in PortState:
        for action in PortAction:
            if (state, action) not in TRANSITIONS:
                with pytest.raises(YuntongError) as refused:
                    check_port_transition(state, action)
                assert refused.value.code == "port_transition_refused"


def test_completed_and_rejected_are_final() -> None:
    assert not [k for k in TRANSITIONS if k[0] in (PortState.COMPLETED, PortState.REJECTED)]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (CarrierAnswer("a", "r", False, False, None, 0), "port_in_number_unknown"),
        (CarrierAnswer("a", "r", True, False, date(2020, 1, 1), 0), "port_in_holder_mismatch"),
        (CarrierAnswer("a", "r", True, True, TODAY - timedelta(days=119), 0), "port_in_too_new"),
        (CarrierAnswer("a", "r", True, True, None, 0), "port_in_too_new"),
        (CarrierAnswer("a", "r", True, True, date(2020, 1, 1), 1), "port_in_arrears"),
    ],
)
def test_each_check_on_the_carriers_answer_refuses_with_its_code(
    answer: CarrierAnswer, code: str
) -> None:
    with pytest.raises(YuntongError) as refused:
        check_answer(answer, TODAY, 120)
    assert refused.value.code == code


def test_a_number_in_service_120_days_without_arrears_passes() -> None:
    check_answer(GOOD, TODAY, 120)


def test_only_the_local_network_ports_in() -> None:
    check_same_network("广东省", SETTINGS)
    for province in ("浙江省", None):
        with pytest.raises(YuntongError) as refused:
            check_same_network(province, SETTINGS)
        assert refused.value.code == "port_in_other_network"
    unset = SETTINGS.model_copy(update={"numbers_porting_province": None})
    with pytest.raises(YuntongError) as refused:
        check_same_network("广东省", unset)
    assert refused.value.code == "port_in_unavailable"


def test_only_mobile_numbers_port() -> None:
    assert check_port_number("138 0013 8000", SETTINGS).e164 == "+8613800138000"
    for text in ("02012345678", "4001234567", "12345"):
        with pytest.raises(YuntongError) as refused:
            check_port_number(text, SETTINGS)
        assert refused.value.code == "port_in_not_mobile"


def test_the_document_is_judged_by_its_content_and_size() -> None:
    pdf = b"%PDF-1.7\n" + b"x" * 100
    assert check_document("授权书.pdf", pdf, 1000).media_type == "application/pdf"
    assert check_document("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 10, 1000).media_type == "image/png"
    assert check_document("../../etc/x.jpg", b"\xff\xd8\xff\xe0", 1000).name == "x.jpg"
    for name, data in (("a.pdf", b"MZ\x90\x00 not a pdf"), ("a.pdf", b""), ("a.pdf", pdf * 20)):
        with pytest.raises(YuntongError) as refused:
            check_document(name, data, 1000)
        assert refused.value.code == "port_document_invalid"


def test_a_carriers_call_is_taken_only_with_its_signature() -> None:
    raw, signature = signed(SETTINGS, GOOD.as_body(), NOW)
    assert CarrierAnswer.of(check_signed(SETTINGS, signature, raw, NOW)) == GOOD
    for header, body in ((signature, raw.replace(b"true", b"false", 1)), (None, raw)):
        with pytest.raises(YuntongError) as refused:
            check_signed(SETTINGS, header, body, NOW)
        assert refused.value.code == "bad_signature"
    other = SETTINGS.model_copy(update={"numbers_porting_carrier_secret": SecretStr("x" * 32)})
    with pytest.raises(YuntongError):
        check_signed(other, signature, raw, NOW)


def test_the_sandbox_answers_from_its_register() -> None:
    register = {
        "13800138000": {"holder_id": "11010519491231002x", "in_service_since": "2020-01-01"}
    }
    settings = SETTINGS.model_copy(update={"numbers_porting_sandbox": register})

    async def never(raw: bytes, signature: str) -> None:
        raise AssertionError

    sandbox = SandboxLosingCarrier(settings, lambda: NOW, never)
    mine = sandbox.answer("r", "13800138000", Holder("resident_id", "11010519491231002X"))
    assert mine.known and mine.same_holder and mine.arrears_fen == 0
    theirs = sandbox.answer("r", "13800138000", Holder("resident_id", "110105194912310010"))
    assert theirs.known and not theirs.same_holder
    assert not sandbox.answer("r", "13800138001", Holder("uscc", "x")).known


def test_a_code_hash_binds_the_number() -> None:
    assert code_hash("s", "+8613800138000", "12345678") != code_hash(
        "s", "+8613800138001", "12345678"
    )
    assert len(code_hash("s", "+8613800138000", "12345678")) == 64
