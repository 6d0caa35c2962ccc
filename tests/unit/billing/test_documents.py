"""Statements as CSV and PDF and receipts as PDF: what the customer opens and reads."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from yuntong.billing.statements.documents import (
    LineView,
    ReceiptView,
    StatementView,
    receipt_pdf,
    statement_csv,
    statement_pdf,
)
from yuntong.core.money import format_yuan

CYCLE_START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 in Shanghai


def statement(lines: list[LineView] | None = None, *, locale: str = "zh-CN") -> StatementView:
    """A statement whose totals agree with its lines, as the caller builds it."""
    if lines is None:
        lines = [
            LineView(CYCLE_START + timedelta(days=2, hours=8, seconds=9), "usage",
                     "视频通话", "zh***an", 125, "0.15/min (6/6)", 33),
            LineView(CYCLE_START + timedelta(days=3), "rent",
                     "基础套餐月租", "", None, "", 123_456_789),
            LineView(CYCLE_START + timedelta(days=5), "payment",
                     "支付宝缴费", "", None, "", -5_000),
        ]  # fmt: skip
    opening = LineView(CYCLE_START, "previous_balance", "上期结余", "", None, "", 5_000)
    payments = sum(line.amount_fen for line in lines if line.kind == "payment")
    charges = sum(line.amount_fen for line in lines if line.kind != "payment")
    return StatementView(
        number="ST-2026-11-000042",
        locale=locale,
        timezone="Asia/Shanghai",
        operator_name="云通",
        customer_name="北京星河科技有限公司",
        account_id=42,
        cycle="2026-11",
        period_first_day=date(2026, 11, 1),
        period_last_day=date(2026, 11, 30),
        issued_on=date(2026, 12, 1),
        due_on=date(2026, 12, 15),
        previous_balance_fen=opening.amount_fen,
        payments_fen=payments,
        charges_fen=charges,
        total_due_fen=opening.amount_fen + payments + charges,
        lines=(opening, *lines),
    )


def many_calls(count: int) -> list[LineView]:
    return [
        LineView(
            CYCLE_START + timedelta(minutes=i), "usage", "语音通话", "li***si", 61, "0.10/min", 11
        )
        for i in range(count)
    ]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_csv_has_one_row_per_line_and_a_total() -> None:
    view = statement()
    _, *body, total = csv_rows(statement_csv(view))
    assert len(body) == len(view.lines)
    assert total[0] == "合计"
    assert sum(Decimal(row[-1]) for row in body) == Decimal(total[-1])
    assert Decimal(total[-1]) * 100 == view.total_due_fen


def test_csv_starts_with_a_byte_order_mark_so_excel_reads_chinese() -> None:
    data = statement_csv(statement())
    assert data.startswith(codecs.BOM_UTF8)
    assert "视频通话" in data.decode("utf-8-sig")


def test_csv_header_follows_the_locale() -> None:
    zh_header = csv_rows(statement_csv(statement()))[0]
    en_header = csv_rows(statement_csv(statement(locale="en")))[0]
    assert zh_header == ["时间", "类型", "说明", "对方", "时长（秒）", "费率", "金额（元）"]
    assert en_header == [
        "Date and time", "Type", "Description", "Other party", "Duration (s)", "Rate",
        "Amount (CNY)",
    ]  # fmt: skip
    assert csv_rows(statement_csv(statement(locale="en")))[1][1] == "Previous balance"


def test_csv_rows_show_local_time_seconds_and_plain_yuan() -> None:
    _, opening, call, rent, payment, _ = csv_rows(statement_csv(statement()))
    assert call == [
        "2026-11-03 08:00:09", "通信费", "视频通话", "zh***an", "125", "0.15/min (6/6)", "0.33"
    ]  # fmt: skip
    assert opening[0] == "2026-11-01 00:00:00"
    assert opening[4] == ""  # no duration outside usage
    assert rent[-1] == "1234567.89"  # no thousands separator: a spreadsheet must read a number
    assert payment[-1] == "-50.00"


def test_csv_keeps_text_that_looks_like_a_formula_inert() -> None:
    trap = LineView(CYCLE_START, "credit", '=HYPERLINK("http://x")', "@evil", None, "", -100)
    row = csv_rows(statement_csv(statement([trap])))[2]
    assert row[2] == '\'=HYPERLINK("http://x")'
    assert row[3] == "'@evil"
    assert row[-1] == "-1.00"  # amounts stay numbers


def test_naive_times_are_refused() -> None:
    naive = LineView(datetime(2026, 11, 3, 8, 0), "usage", "视频通话", "", 5, "", 1)
    with pytest.raises(ValueError, match="aware"):
        statement_csv(statement([naive]))


def test_pdf_shows_the_chinese_title_number_customer_and_total_due() -> None:
    view = statement()
    data = statement_pdf(view)
    assert data.startswith(b"%PDF")
    (text,) = pdf_pages(data)
    for expected in (
        "账单",
        view.number,
        "北京星河科技有限公司",
        "本期应缴",
        "视频通话",
        "第 1 页，共 1 页",
    ):
        assert expected in text
    assert format_yuan(view.total_due_fen) == "1,234,568.22"
    assert "1,234,568.22" in text


def test_pdf_in_english_escapes_markup_in_names() -> None:
    view = replace(statement(locale="en"), customer_name="Smith & Sons <Ltd>")
    (text,) = pdf_pages(statement_pdf(view))
    for expected in ("Statement", "Total due", "Smith & Sons <Ltd>", "Page 1 of 1"):
        assert expected in text


def test_long_statement_spans_pages_with_column_headings_and_page_numbers_on_each() -> None:
    view = statement(many_calls(3_000))
    reader = PdfReader(io.BytesIO(statement_pdf(view)))
    count = len(reader.pages)
    assert count > 20
    # extracting every page's text would cost more than rendering; the first, a middle and the last
    for number in (1, count // 2, count):
        text = reader.pages[number - 1].extract_text()
        assert "金额（元）" in text
        assert f"第 {number} 页，共 {count} 页" in text
    last = reader.pages[-1].extract_text()
    assert "合计" in last
    assert format_yuan(view.total_due_fen) in last


def test_same_statement_renders_to_the_same_bytes() -> None:
    assert statement_pdf(statement()) == statement_pdf(statement())


def test_receipt_is_one_page_with_amount_time_and_reference() -> None:
    view = ReceiptView(
        receipt_number="RC-2026-11-000007",
        locale="zh-CN",
        timezone="Asia/Shanghai",
        operator_name="云通",
        customer_name="张三",
        account_id=42,
        received_at=datetime(2026, 11, 20, 2, 30, tzinfo=UTC),
        amount_fen=123_456,
        method="支付宝",
        reference="2026112022001",
    )
    data = receipt_pdf(view)
    assert data.startswith(b"%PDF")
    (text,) = pdf_pages(data)
    for expected in ("收据", "RC-2026-11-000007", "1,234.56", "2026-11-20 10:30:00", "支付宝"):
        assert expected in text
    assert "2026112022001" in text
