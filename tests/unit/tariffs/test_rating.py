"""Rating outside calls, by hand: longest-prefix match, categories (local from the caller's
area code), whole increments and the one rounding, and the import's row-by-row check."""

from __future__ import annotations

import pytest

from yuntong.billing.catalog.catalog import check_rates
from yuntong.core.errors import YuntongError
from yuntong.strings import install
from yuntong.tariffs.imports import TariffTableInvalid, parse_costs, parse_prices
from yuntong.tariffs.rating import (
    OutsideRate,
    area_code,
    billed_seconds,
    charge_of,
    home_area_code,
    match,
)
from yuntong.tariffs.tables import PriceRow, PriceTable

HEADER = "prefix,category,name_zh,name_en,price_per_minute_fen,increment_s\n"


def table(*rows: tuple[str, str, int, int]) -> PriceTable:
    found = [PriceRow(p, c, p, p, fen, inc) for p, c, fen, inc in rows]
    return PriceTable(
        1,
        {r.prefix: r for r in found if r.category != "local"},
        {r.prefix: r for r in found if r.category == "local"},
    )


CHINA = table(
    ("86", "domestic", 20, 60),
    ("8610", "domestic", 15, 60),
    ("86", "local", 10, 60),
    ("861", "mobile", 12, 60),  # 1x: mobile, except Beijing (10), which is longer
    ("8610100", "premium", 100, 60),
    ("86400", "premium", 50, 60),
    ("1", "international", 80, 6),
    ("1415", "international", 60, 6),
)


def rate(per_minute: int, increment: int, cost: int | None = None) -> OutsideRate:
    return OutsideRate("domestic", "86", per_minute, cost, increment_s=increment)


def test_the_longest_prefix_names_the_destination() -> None:
    assert match(CHINA, "14155550100", None).prefix == "1415"  # type: ignore[union-attr]
    assert match(CHINA, "12125550100", None).prefix == "1"  # type: ignore[union-attr]
    mobile = match(CHINA, "8613912345678", "10")
    assert mobile is not None and (mobile.category, mobile.prefix) == ("mobile", "861")
    premium = match(CHINA, "86101001234", "10")
    assert premium is not None and premium.category == "premium"


def test_a_fixed_line_in_the_callers_own_area_is_local() -> None:
    beijing = "861088886666"
    local = match(CHINA, beijing, "010")
    assert local is not None and (local.category, local.price_per_minute_fen) == ("local", 10)
    far = match(CHINA, beijing, "21")
    assert far is not None and (far.category, far.price_per_minute_fen) == ("domestic", 15)
    no_home = match(CHINA, beijing, None)
    assert no_home is not None and no_home.category == "domestic"


def test_local_without_a_local_row_keeps_the_domestic_price() -> None:
    only_domestic = table(("8621", "domestic", 18, 60))
    found = match(only_domestic, "862166667777", "21")
    assert found is not None and (found.category, found.price_per_minute_fen) == ("local", 18)


def test_an_unknown_destination_has_no_rate() -> None:
    assert match(CHINA, "4930123456", None) is None


@pytest.mark.parametrize(
    ("digits", "area"),
    [
        ("861088886666", "10"),
        ("862166667777", "21"),
        ("8675512345678", "755"),
        ("8613912345678", None),
        ("14155550100", None),
    ],
)
def test_area_codes(digits: str, area: str | None) -> None:
    assert area_code(digits) == area


def test_home_area_from_a_code_or_a_number() -> None:
    assert home_area_code("010") == "10"
    assert home_area_code("755") == "755"
    assert home_area_code("+861088886666") == "10"
    assert home_area_code(None) is None


@pytest.mark.parametrize(
    ("seconds", "per_minute", "increment", "billed", "units", "fen"),
    [
        (61, 10, 60, 120, 2, 20),  # a started minute counts: 2 minutes
        (0, 10, 60, 0, 0, 0),  # answered and hung up at once: nothing
        (60, 10, 60, 60, 1, 10),
        (1, 10, 60, 60, 1, 10),
        (61, 10, 6, 66, 11, 11),  # 11 six-second units of 1 fen
        (61, 7, 6, 66, 11, 8),  # 7.7 fen, rounded once, half-up
        (6, 5, 6, 6, 1, 1),  # 0.5 fen → 1
        (1, 3, 6, 6, 1, 0),  # 0.3 fen → 0
        (3601, 80, 6, 3606, 601, 4808),  # 80 × 3606 / 60 = 4808
    ],
)
def test_rounding_by_hand(
    seconds: int, per_minute: int, increment: int, billed: int, units: int, fen: int
) -> None:
    charge = charge_of(seconds, rate(per_minute, increment))
    assert (charge.billed_s, charge.units, charge.price_fen) == (billed, units, fen)


def test_cost_is_rated_on_the_same_billed_seconds() -> None:
    charge = charge_of(61, rate(10, 60, cost=7))
    assert (charge.price_fen, charge.cost_fen) == (20, 14)
    assert charge_of(61, rate(10, 60)).cost_fen is None
    assert billed_seconds(0, 6) == 0


def test_a_price_table_parses_with_default_increment() -> None:
    rows = parse_prices(HEADER + "8610,domestic,北京,Beijing,15,\n86,local,本地,Local,10,60\n")
    assert rows[0]["increment_s"] == 60 and rows[1]["category"] == "local"


def test_every_bad_row_is_reported_with_its_line() -> None:
    install()
    text = HEADER + (
        "8610,domestic,北京,Beijing,15,60\n"  # line 2: fine
        "0086,mobile,手机,Mobile,12,60\n"  # line 3: prefix starts with 0
        "8613,cellular,手机,Mobile,12,60\n"  # line 4: category
        "1,domestic,美国,USA,-5,0\n"  # line 5: 86 rule, amount, increment
        "8610,domestic,北京,Beijing,15,60\n"  # line 6: duplicate
        "8611,mobile\n"  # line 7: columns
    )
    with pytest.raises(TariffTableInvalid) as caught:
        parse_prices(text)
    found = [(e.line, e.code) for e in caught.value.rows]
    assert found == [
        (3, "prefix"),
        (4, "category"),
        (5, "category_prefix"),
        (5, "amount"),
        (5, "increment"),
        (6, "duplicate"),
        (7, "columns"),
    ]
    body = caught.value.to_dict("en")
    assert body["code"] == "tariff_table_invalid"
    assert body["rows"][0] == {
        "line": 3,
        "code": "prefix",
        "column": "prefix",
        "message": "The prefix must be 1 to 16 digits (E.164 without '+', not starting with 0)",
    }
    assert body["message"] == "The table has 7 errors; nothing was imported"


def test_a_wrong_header_or_an_empty_file_is_refused() -> None:
    with pytest.raises(TariffTableInvalid) as caught:
        parse_prices("prefix,price\n86,1\n")
    assert [(e.line, e.code) for e in caught.value.rows] == [(1, "header")]
    with pytest.raises(TariffTableInvalid) as empty:
        parse_prices(HEADER)
    assert empty.value.rows[0].code == "empty"


def test_cost_rows_must_name_the_trunk_imported() -> None:
    text = "trunk,prefix,cost_per_minute_fen\nct-bj,86,5\nct-sh,8610,4\n"
    with pytest.raises(TariffTableInvalid) as caught:
        parse_costs(text, "ct-bj")
    assert [(e.line, e.code) for e in caught.value.rows] == [(3, "trunk")]
    assert parse_costs(text.replace("ct-sh", "ct-bj"), "ct-bj")[1] == {
        "prefix": "8610",
        "cost_per_minute_fen": 4,
    }


def test_unreadable_files_and_odd_digits_are_row_errors_not_crashes() -> None:
    with pytest.raises(TariffTableInvalid) as huge:
        parse_prices(HEADER + "86,domestic," + "长" * 200_000 + ",x,1,60\n")
    assert [(e.line, e.code) for e in huge.value.rows] == [(2, "unreadable")]
    with pytest.raises(TariffTableInvalid) as nul:
        parse_prices(HEADER + "86,domestic,a\x00b,x,1,60\n")
    assert [e.code for e in nul.value.rows] == ["name"]
    with pytest.raises(TariffTableInvalid) as odd:
        parse_prices(HEADER + "86,domestic,国内,Mainland,²,60\n86,local,本地,Lo\x07cal,1,60\n")
    assert [(e.line, e.code) for e in odd.value.rows] == [(2, "amount"), (3, "name")]


def test_a_package_cannot_price_outside_calls() -> None:
    spec = {"per_minute_fen": "10", "increment": "60/60"}
    assert check_rates({"call.audio": spec})["call.audio"]["increment"] == "60/60"
    with pytest.raises(YuntongError) as caught:
        check_rates({"call.outside": spec})
    assert caught.value.code == "invalid_rate"
