"""The inventory's rules that need no database: pattern classes, what may be imported, the
attribution read from the geocoder, ranges, and the state machine's table."""

from __future__ import annotations

import pytest

from yuntong.config import Settings
from yuntong.core.errors import YuntongError
from yuntong.numbers.inventory import (
    CheckedNumber,
    attribution_of,
    check_number,
    expand_range,
    split_en,
    split_zh,
)
from yuntong.numbers.machine import TRANSITIONS, NumberAction, check_transition
from yuntong.numbers.models import NumberKind, NumberState
from yuntong.numbers.patterns import PLAIN, pattern_class

SETTINGS = Settings(database_url="sqlite+aiosqlite://")


@pytest.mark.parametrize(
    ("national", "pattern"),
    [
        ("13912388888", "AAAAA"),
        ("13912348888", "AAAA"),
        ("13900012345", "ABCDE"),
        ("13900054321", "EDCBA"),
        ("13900071234", "ABCD"),
        ("13900074321", "DCBA"),
        ("13900071122", "AABB"),
        ("13900071212", "ABAB"),
        ("13900071221", "ABBA"),
        ("13900071888", "AAA"),
        ("13900071829", PLAIN),
        ("13900070890", PLAIN),  # 8-9-0 is no run
    ],
)
def test_pattern_classes_read_the_tail(national: str, pattern: str) -> None:
    assert pattern_class(national) == pattern


@pytest.mark.parametrize(
    ("text", "kind", "e164"),
    [
        ("13800138000", NumberKind.MOBILE, "+8613800138000"),
        ("+86 138 0013 8000", NumberKind.MOBILE, "+8613800138000"),
        ("010-8888-6666", NumberKind.FIXED_LINE, "+861088886666"),
        ("075512345678", NumberKind.FIXED_LINE, "+8675512345678"),
        ("4008001234", NumberKind.SERVICE, "+864008001234"),
        ("95105888", NumberKind.SERVICE, "+8695105888"),
    ],
)
def test_valid_numbers_of_each_kind_are_accepted(text: str, kind: NumberKind, e164: str) -> None:
    checked = check_number(text, SETTINGS)
    assert isinstance(checked, CheckedNumber)
    assert (checked.kind, checked.e164) == (kind, e164)


@pytest.mark.parametrize("text", ["1380013800", "12345678901", "abc", "+1 650 253 0000", "951"])
def test_invalid_numbers_are_refused(text: str) -> None:
    assert check_number(text, SETTINGS) == "invalid"


def test_kinds_the_operator_does_not_sell_are_refused() -> None:
    mobile_only = Settings(database_url="sqlite+aiosqlite://", numbers_kinds=["mobile"])
    assert check_number("4008001234", mobile_only) == "kind_not_sold"
    assert check_number("01088886666", mobile_only) == "kind_not_sold"
    no_400 = Settings(database_url="sqlite+aiosqlite://", numbers_service_prefixes=["95"])
    assert check_number("4008001234", no_400) == "kind_not_sold"


def test_attribution_in_both_languages_and_unknown_segments() -> None:
    shenzhen = attribution_of("+8675512345678")
    assert (shenzhen.province, shenzhen.city) == ("广东省", "深圳市")
    assert (shenzhen.province_en, shenzhen.city_en) == ("Guangdong", "Shenzhen")
    beijing = attribution_of("+8613800138000")
    assert (beijing.province, beijing.city, beijing.province_en) == ("北京市", "北京市", "Beijing")
    unknown = attribution_of("+8616512345678")  # the geocoder says only "中国"
    assert not unknown.known and unknown.city is None


def test_descriptions_split_into_province_and_city() -> None:
    assert split_zh("内蒙古自治区呼和浩特市") == ("内蒙古自治区", "呼和浩特市")
    assert split_zh("中国") == (None, None)
    assert split_en("Hangzhou, Zhejiang") == ("Zhejiang", "Hangzhou")
    assert split_en("China") == (None, None)


def test_ranges_expand_with_leading_zeros_and_are_bounded() -> None:
    assert expand_range("01088886660", "01088886662") == [
        "01088886660",
        "01088886661",
        "01088886662",
    ]
    for start, end in [("13800000009", "13800000001"), ("1380000000", "13800000001")]:
        with pytest.raises(YuntongError) as caught:
            expand_range(start, end)
        assert caught.value.code == "number_range_invalid"
    with pytest.raises(YuntongError):
        expand_range("13800000000", "13899999999")  # 10 million: above the block size


def test_the_state_machine_allows_the_lifecycle_and_refuses_the_rest() -> None:
    life = [
        (NumberState.AVAILABLE, NumberAction.RESERVE, NumberState.RESERVED),
        (NumberState.RESERVED, NumberAction.ASSIGN, NumberState.ASSIGNED),
        (NumberState.ASSIGNED, NumberAction.RELEASE, NumberState.QUARANTINED),
        (NumberState.QUARANTINED, NumberAction.RECYCLE, NumberState.AVAILABLE),
        (NumberState.AVAILABLE, NumberAction.BLOCK, NumberState.BLOCKED),
        (NumberState.BLOCKED, NumberAction.UNBLOCK, NumberState.AVAILABLE),
        (NumberState.ASSIGNED, NumberAction.PORT_OUT, NumberState.PORTED_OUT),
    ]
    for state, action, target in life:
        assert check_transition(state, action) == target
    for state in NumberState:
        for action in NumberAction:
            if (state, action) in TRANSITIONS:
                continue
            with pytest.raises(YuntongError) as caught:
                check_transition(state, action)
            assert caught.value.code == "number_transition_refused"
    # ported out is final; an assigned number is never blocked or reserved under its holder
    assert not [k for k in TRANSITIONS if k[0] == NumberState.PORTED_OUT]
    assert (NumberState.ASSIGNED, NumberAction.BLOCK) not in TRANSITIONS
    assert (NumberState.QUARANTINED, NumberAction.RESERVE) not in TRANSITIONS


def test_refusals_speak_both_languages() -> None:
    with pytest.raises(YuntongError) as caught:
        check_transition(NumberState.BLOCKED, NumberAction.RESERVE)
    assert "blocked" in caught.value.message("en")
    assert "号码当前状态" in caught.value.message("zh-CN")


def test_prefix_searches_are_index_ranges_even_at_nines() -> None:
    from yuntong.numbers.selection import NumberQuery, search_query

    def where(prefix: str) -> str:
        statement = search_query(NumberQuery(prefix=prefix))
        return str(statement.compile(compile_kwargs={"literal_binds": True}))

    assert "phone_numbers.national >= '139120'" in where("139120")
    assert "phone_numbers.national < '139121'" in where("139120")
    assert "phone_numbers.national < '140'" in where("139")
    assert "phone_numbers.national <" not in where("999")  # nothing above: no upper bound
    assert "7551234" in where("0755-1234")  # a fixed line's area code with its 0
