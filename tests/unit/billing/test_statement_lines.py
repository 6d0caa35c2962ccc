"""Every kind of ledger entry becomes a statement line with its words and its rate column, in
both languages, and every one renders in the CSV and the PDF: ``detail["rate"]`` is a tariff
for usage and a percentage for a late fee, and neither may break the other."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

import yuntong.billing.catalog.tariff  # noqa: F401  (registers the usage types' words)
from yuntong.billing.models import LedgerEntry
from yuntong.billing.statements.documents import (
    LineView,
    StatementView,
    statement_csv,
    statement_pdf,
)
from yuntong.billing.statements.view import Wording, describe, last_day, rate_text

TZ = ZoneInfo("Asia/Shanghai")
NOV_1 = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 1 Nov 00:00 in Beijing
DEC_1 = datetime(2026, 11, 30, 16, tzinfo=UTC)
JAN_1 = datetime(2026, 12, 31, 16, tzinfo=UTC)


def entry(kind: str, amount_fen: int, detail: dict[str, Any], **fields: Any) -> LedgerEntry:
    return LedgerEntry(
        id=fields.pop("id", 1),
        kind=kind,
        amount_fen=amount_fen,
        occurred_at=fields.pop("occurred_at", NOV_1),
        detail=detail,
        **fields,
    )


USAGE_RATE = {"per_minute_fen": "12.5", "increment": "6/6", "connect_fee_fen": 0}
ENTRIES = {
    "usage": entry(
        "usage", 25, {"rate": USAGE_RATE, "other_party": "zh***"}, usage_type="call.video"
    ),
    "usage_in_allowance": entry("usage", 0, {}, usage_type="call.audio"),
    "rent": entry(
        "rent",
        5800,
        {"product_code": "basic", "days": 31, "cycle_days": 31, "credit": False},
        period_start=DEC_1,
        period_end=JAN_1,
    ),
    "rent_back": entry(
        "rent",
        -4060,
        {"product_code": "basic", "days": 21, "cycle_days": 30, "credit": True},
        period_start=datetime(2026, 11, 10, 1, tzinfo=UTC),
        period_end=DEC_1,
    ),
    "rent_suspended": entry(
        "rent",
        -2000,
        {
            "product_code": "basic",
            "days": 20,
            "cycle_days": 30,
            "credit": True,
            "reason": "suspended",
        },
        period_start=datetime(2026, 11, 11, 1, tzinfo=UTC),
        period_end=DEC_1,
    ),
    "rent_resumed": entry(
        "rent",
        1000,
        {
            "product_code": "basic",
            "days": 10,
            "cycle_days": 30,
            "credit": False,
            "reason": "resumed",
        },
        period_start=datetime(2026, 11, 21, 1, tzinfo=UTC),
        period_end=DEC_1,
    ),
    "late_fee": entry("late_fee", 300, {"day": "2026-11-11", "base_fen": 100_000, "rate": "0.3%"}),
    "late_fee_correction": entry(
        "late_fee",
        -120,
        {"day": "2026-11-12", "base_fen": 60_000, "rate": "0.3%", "corrects_fen": 300},
    ),
    "adjustment": entry(
        "adjustment", 12, {"usage_at": "2026-11-02T04:05:00+00:00", "was_fen": 13, "now_fen": 25}
    ),
    "payment": entry("payment", -5800, {"method": "cash", "receipt": "RC-20261105-00000007"}),
    "incident": entry(
        "credit",
        -48,
        {"incident_id": 3, "hours": "6.00", "product_code": "basic", "cycle": "2026-11"},
        reference="incident:3",
        period_start=datetime(2026, 11, 10, 0, tzinfo=UTC),
        period_end=datetime(2026, 11, 10, 6, tzinfo=UTC),
    ),
    "dispute": entry(
        "credit",
        -500,
        {"dispute_id": 4, "statement_number": "SF-00000001", "entry_id": 1},
        reference="4",
    ),
}
WORDS = {
    "en": Wording("en", TZ, {"basic": "Basic"}, {3: "Power cut"}),
    "zh-CN": Wording("zh-CN", TZ, {"basic": "基础套餐"}, {3: "机房断电"}),
}
EXPECTED = {
    "en": {
        "usage": ("Video call", "0.125 yuan/min (6/6)"),
        "usage_in_allowance": ("Audio call", ""),
        "rent": ("Basic monthly fee 2026-12-01 – 2026-12-31 (31/31 days)", ""),
        "rent_back": ("Basic unused days returned 2026-11-10 – 2026-11-30 (21/30 days)", ""),
        "rent_suspended": (
            "Basic monthly fee returned while suspended 2026-11-11 – 2026-11-30 (20/30 days)",
            "",
        ),
        "rent_resumed": (
            "Basic monthly fee from resumption 2026-11-21 – 2026-11-30 (10/30 days)",
            "",
        ),
        "late_fee": ("Late fee 2026-11-11 (1,000.00 yuan × 0.3%)", "0.3%/day"),
        "late_fee_correction": (
            "Late fee correction 2026-11-12 (3.00 yuan charged; 600.00 yuan × 0.3% = 1.80 yuan)",
            "0.3%/day",
        ),
        "adjustment": ("Tariff correction: usage of 2026-11-02 12:05", ""),
        "payment": ("Payment, receipt RC-20261105-00000007", ""),
        "incident": (
            "Service interruption credit: Power cut (2026-11-10 08:00 – 2026-11-10 14:00, "
            "6.00 h, Basic)",
            "",
        ),
        "dispute": ("Credit for billing dispute #4 (statement SF-00000001)", ""),
    },
    "zh-CN": {
        "rent": ("基础套餐 月租 2026-12-01 至 2026-12-31（31/31 天）", ""),
        "rent_suspended": (
            "基础套餐 欠费停机期间月租退还 2026-11-11 至 2026-11-30（20/30 天）",
            "",
        ),
        "late_fee": ("滞纳金 2026-11-11（1,000.00 元 × 0.3%）", "0.3%/日"),
        "late_fee_correction": (
            "滞纳金更正 2026-11-12（已收 3.00 元，应为 600.00 元 × 0.3% = 1.80 元）",
            "0.3%/日",
        ),
        "incident": (
            "服务中断减免：机房断电（2026-11-10 08:00 至 2026-11-10 14:00，6.00 小时，基础套餐）",
            "",
        ),
        "dispute": ("账单争议 #4 减免（账单 SF-00000001）", ""),
    },
}


@pytest.mark.parametrize(
    ("locale", "name"), [(loc, name) for loc, names in EXPECTED.items() for name in names]
)
def test_each_kind_of_line_says_what_it_is(locale: str, name: str) -> None:
    line = ENTRIES[name]
    got = (describe(line, WORDS[locale]), rate_text(line, line.detail, locale))
    assert got == EXPECTED[locale][name]


def test_a_rate_the_kind_does_not_expect_leaves_the_rate_column_empty() -> None:
    odd = [
        entry("usage", 1, {"rate": "0.3%"}, usage_type="call.audio"),
        entry("late_fee", 1, {"rate": USAGE_RATE, "day": "2026-11-11", "base_fen": 1}),
        entry("credit", -1, {"rate": "x"}, reference="manual"),
    ]
    assert [rate_text(e, e.detail, "en") for e in odd] == ["", "", ""]


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_every_kind_renders_in_the_csv_and_the_pdf(locale: str) -> None:
    lines = tuple(
        LineView(
            e.occurred_at,
            e.kind,
            describe(e, WORDS[locale]),
            str(e.detail.get("other_party", "")),
            None,
            rate_text(e, e.detail, locale),
            e.amount_fen,
            n,
        )
        for n, e in enumerate(ENTRIES.values(), 1)
    )
    total = sum(line.amount_fen for line in lines)
    view = StatementView(
        "ST-2026-11-000001", locale, "Asia/Shanghai", "Yuntong", "Someone", 1, "2026-11",
        date(2026, 11, 1), last_day(DEC_1, TZ), date(2026, 12, 1), date(2026, 12, 15),
        0, -5800, total + 5800, total, lines,
    )  # fmt: skip
    assert view.period_last_day == date(2026, 11, 30)
    table = statement_csv(view).decode("utf-8-sig")
    pdf = PdfReader(io.BytesIO(statement_pdf(view)))
    text = "".join("".join(p.extract_text().split()) for p in pdf.pages)
    for line in lines:
        assert line.description in table
        assert "".join(line.description.split()) in text
    assert "2026-11-01–2026-11-30" in text
