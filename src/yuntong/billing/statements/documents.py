"""Billing documents a customer receives: statements as CSV and PDF, receipts as PDF.

The caller passes views that are already localised; this module only lays them out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from html import escape
from typing import Any, Final
from zoneinfo import ZoneInfo

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from yuntong.core.i18n import DEFAULT_LOCALE
from yuntong.core.money import format_yuan
from yuntong.core.spreadsheet import safe_cell


@dataclass(frozen=True)
class LineView:
    occurred_at: datetime  # aware; rendered in the document's time zone
    kind: str  # previous_balance, usage, rent, adjustment, late_fee, credit or payment
    description: str
    other_party: str  # already masked; "" when none
    duration_s: int | None  # usage only
    rate: str  # already formatted, e.g. "0.15/min (6/6)"; "" when none
    amount_fen: int  # signed; payments and credits are negative
    entry_id: int | None = None  # the ledger entry (None for the previous balance): disputes


@dataclass(frozen=True)
class StatementView:
    number: str
    locale: str
    timezone: str
    operator_name: str
    customer_name: str
    account_id: int
    cycle: str
    period_first_day: date
    period_last_day: date
    issued_on: date
    due_on: date
    previous_balance_fen: int
    payments_fen: int  # <= 0
    charges_fen: int
    total_due_fen: int
    lines: tuple[LineView, ...]  # the first line is the previous balance line


@dataclass(frozen=True)
class ReceiptView:
    receipt_number: str
    locale: str
    timezone: str
    operator_name: str
    customer_name: str
    account_id: int
    received_at: datetime
    amount_fen: int
    method: str
    reference: str


_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh-CN": {
        "statement": "账单",
        "receipt": "收据",
        "number": "账单编号",
        "receipt_number": "收据编号",
        "customer": "客户",
        "account": "账户号",
        "cycle": "账期",
        "period": "计费周期",
        "issued": "出账日期",
        "due": "缴费截止日",
        "previous_balance": "上期结余",
        "payments": "本期缴费",
        "charges": "本期费用",
        "total_due": "本期应缴（元）",
        "received_at": "收款时间",
        "amount": "金额（元）",
        "method": "支付方式",
        "reference": "交易参考号",
        "page": "第 {page} 页，共 {pages} 页",
        "total": "合计",
        "col.time": "时间",
        "col.kind": "类型",
        "col.description": "说明",
        "col.other_party": "对方",
        "col.duration": "时长（秒）",
        "col.rate": "费率",
        "col.amount": "金额（元）",
        "kind.previous_balance": "上期结余",
        "kind.usage": "通信费",
        "kind.rent": "月租",
        "kind.adjustment": "调整",
        "kind.late_fee": "滞纳金",
        "kind.credit": "减免",
        "kind.payment": "缴费",
    },
    "en": {
        "statement": "Statement",
        "receipt": "Receipt",
        "number": "Statement number",
        "receipt_number": "Receipt number",
        "customer": "Customer",
        "account": "Account",
        "cycle": "Billing cycle",
        "period": "Period",
        "issued": "Issued on",
        "due": "Due by",
        "previous_balance": "Previous balance",
        "payments": "Payments",
        "charges": "New charges",
        "total_due": "Total due (CNY)",
        "received_at": "Received at",
        "amount": "Amount (CNY)",
        "method": "Payment method",
        "reference": "Reference",
        "page": "Page {page} of {pages}",
        "total": "Total",
        "col.time": "Date and time",
        "col.kind": "Type",
        "col.description": "Description",
        "col.other_party": "Other party",
        "col.duration": "Duration (s)",
        "col.rate": "Rate",
        "col.amount": "Amount (CNY)",
        "kind.previous_balance": "Previous balance",
        "kind.usage": "Usage",
        "kind.rent": "Monthly fee",
        "kind.adjustment": "Adjustment",
        "kind.late_fee": "Late fee",
        "kind.credit": "Credit",
        "kind.payment": "Payment",
    },
}
_COLUMNS: Final = (
    "col.time",
    "col.kind",
    "col.description",
    "col.other_party",
    "col.duration",
    "col.rate",
    "col.amount",
)
# a CID font is built into every PDF reader: Chinese renders without embedding a font file
_FONT: Final = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(_FONT))

_MARGIN: Final = 15 * mm
# time, kind, description, other party, duration, rate, amount; the description takes the rest
_FIXED_WIDTHS: Final = (72.0, 66.0, 0.0, 56.0, 46.0, 62.0, 60.0)
_DURATION_COLUMN: Final = 4
_AMOUNT_COLUMN: Final = 6


def _labels(locale: str) -> dict[str, str]:
    return _LABELS.get(locale, _LABELS[DEFAULT_LOCALE])


def _kind(labels: dict[str, str], kind: str) -> str:
    return labels.get(f"kind.{kind}", kind)


def _local_time(moment: datetime, zone: ZoneInfo) -> str:
    if moment.tzinfo is None:
        raise ValueError("a billing document needs aware datetimes")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _plain_yuan(fen: int) -> str:
    """Yuan without thousands separators, which spreadsheets would read as text."""
    return format_yuan(fen).replace(",", "")


def statement_csv(view: StatementView) -> bytes:
    """One row per line and a total row, UTF-8 with a BOM so that Excel detects the encoding."""
    labels = _labels(view.locale)
    zone = ZoneInfo(view.timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([labels[key] for key in _COLUMNS])
    for line in view.lines:
        writer.writerow(
            [
                _local_time(line.occurred_at, zone),
                _kind(labels, line.kind),
                safe_cell(line.description),
                safe_cell(line.other_party),
                "" if line.duration_s is None else str(line.duration_s),
                safe_cell(line.rate),
                _plain_yuan(line.amount_fen),
            ]
        )
    writer.writerow([labels["total"], "", "", "", "", "", _plain_yuan(view.total_due_fen)])
    return out.getvalue().encode("utf-8-sig")


def _style(name: str, size: float, locale: str) -> Any:
    # CJK word wrap may break between any two characters, which Chinese needs and English must not
    wrap = None if locale == "en" else "CJK"
    return ParagraphStyle(name, fontName=_FONT, fontSize=size, leading=size * 1.3, wordWrap=wrap)


class _FooterCanvas(Canvas):  # type: ignore[misc]
    """Holds every page back until the end, so that each footer can say how many pages there are."""

    def __init__(self, *args: Any, footer: str, page_label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._page_label = page_label
        self._held_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        pages = len(self._held_pages)
        for state in self._held_pages:
            self.__dict__.update(state)
            width = self._pagesize[0]
            self.setFont(_FONT, 8)
            self.setFillColor(colors.grey)
            self.drawString(_MARGIN, _MARGIN / 2, self._footer)
            page_text = self._page_label.format(page=self.getPageNumber(), pages=pages)
            self.drawRightString(width - _MARGIN, _MARGIN / 2, page_text)
            super().showPage()
        super().save()


def _render(flowables: Sequence[Flowable], *, operator_name: str, title: str, page: str) -> bytes:
    """Every page is footed with the operator, the document's title and "page n of m"."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        title=title,
        author=operator_name,
        invariant=True,  # the same document renders to the same bytes
    )
    footer = f"{operator_name}  {title}"
    doc.build(list(flowables), canvasmaker=partial(_FooterCanvas, footer=footer, page_label=page))
    return buffer.getvalue()


def _fields(pairs: Sequence[tuple[str, str]], locale: str, *, size: float = 9) -> Any:
    """Label and value side by side; values wrap, since names can be long."""
    style = _style("field", size, locale)
    rows = [[label, Paragraph(escape(value), style)] for label, value in pairs]
    table = Table(rows, colWidths=[40 * mm, None], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _FONT),
                ("FONTSIZE", (0, 0), (-1, -1), size),
                ("TEXTCOLOR", (0, 0), (0, -1), colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _heading(operator_name: str, title: str, locale: str) -> list[Flowable]:
    return [
        Paragraph(escape(operator_name), _style("operator", 16, locale)),
        Spacer(0, 2 * mm),
        Paragraph(escape(title), _style("title", 13, locale)),
        Spacer(0, 4 * mm),
    ]


def _summary(view: StatementView, labels: dict[str, str]) -> Any:
    rows = [
        [labels["previous_balance"], format_yuan(view.previous_balance_fen)],
        [labels["payments"], format_yuan(view.payments_fen)],
        [labels["charges"], format_yuan(view.charges_fen)],
        [labels["total_due"], format_yuan(view.total_due_fen)],
    ]
    table = Table(rows, colWidths=[50 * mm, 35 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, -1), (-1, -1), 0.75, colors.black),
                ("FONTSIZE", (0, -1), (-1, -1), 12),
                ("TOPPADDING", (0, -1), (-1, -1), 4),
                ("BOX", (0, 0), (-1, -1), 0.5, colors.grey),
            ]
        )
    )
    return table


def _lines_table(view: StatementView, labels: dict[str, str]) -> Any:
    zone = ZoneInfo(view.timezone)
    description = _style("description", 8, view.locale)
    rows: list[list[Any]] = [[labels[key] for key in _COLUMNS]]
    for line in view.lines:
        rows.append(
            [
                _local_time(line.occurred_at, zone),
                _kind(labels, line.kind),
                Paragraph(escape(line.description), description),
                line.other_party,
                "" if line.duration_s is None else str(line.duration_s),
                line.rate,
                format_yuan(line.amount_fen),
            ]
        )
    rows.append([labels["total"], "", "", "", "", "", format_yuan(view.total_due_fen)])
    widths = list(_FIXED_WIDTHS)
    widths[2] = A4[0] - 2 * _MARGIN - sum(widths)
    table = LongTable(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("ALIGN", (_DURATION_COLUMN, 0), (_DURATION_COLUMN, -1), "RIGHT"),
                ("ALIGN", (_AMOUNT_COLUMN, 0), (_AMOUNT_COLUMN, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
            ]
        )
    )
    return table


def statement_pdf(view: StatementView) -> bytes:
    """A4: heading, account and cycle details, a summary, then every line across as many pages as
    it takes, the column headings repeated on each page."""
    labels = _labels(view.locale)
    title = f"{labels['statement']} {view.number}"
    details = [
        (labels["number"], view.number),
        (labels["customer"], view.customer_name),
        (labels["account"], str(view.account_id)),
        (labels["cycle"], view.cycle),
        (labels["period"], f"{view.period_first_day} – {view.period_last_day}"),
        (labels["issued"], view.issued_on.isoformat()),
        (labels["due"], view.due_on.isoformat()),
    ]
    flowables = [
        *_heading(view.operator_name, labels["statement"], view.locale),
        _fields(details, view.locale),
        Spacer(0, 5 * mm),
        _summary(view, labels),
        Spacer(0, 6 * mm),
        _lines_table(view, labels),
    ]
    return _render(flowables, operator_name=view.operator_name, title=title, page=labels["page"])


def receipt_pdf(view: ReceiptView) -> bytes:
    """One A4 page acknowledging a payment."""
    labels = _labels(view.locale)
    title = f"{labels['receipt']} {view.receipt_number}"
    details = [
        (labels["receipt_number"], view.receipt_number),
        (labels["customer"], view.customer_name),
        (labels["account"], str(view.account_id)),
        (labels["received_at"], _local_time(view.received_at, ZoneInfo(view.timezone))),
        (labels["method"], view.method),
        (labels["reference"], view.reference),
        (labels["amount"], format_yuan(view.amount_fen)),
    ]
    flowables = [
        *_heading(view.operator_name, labels["receipt"], view.locale),
        _fields(details, view.locale, size=11),
    ]
    return _render(flowables, operator_name=view.operator_name, title=title, page=labels["page"])
