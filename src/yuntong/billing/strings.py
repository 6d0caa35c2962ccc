"""What billing tells people in words (zh-CN, en), one catalogue per billing noun; the usage
types' names come from the tariff's table."""

from __future__ import annotations

from yuntong.billing.catalog.tariff import USAGE_TYPES
from yuntong.core.i18n import strings

# a dispute's states and the credit note
DISPUTES = strings(
    "dispute",
    {
        "dispute.state.open": ("已受理", "received"),
        "dispute.state.investigating": ("调查中", "under investigation"),
        "dispute.state.credited": ("已更正并退费", "corrected with a credit"),
        "dispute.state.explained": ("已核实并答复", "explained"),
        "dispute.credited_note": ("已退还 {amount} 元。{note}", "{amount} yuan credited. {note}"),
    },
)

# the terms an order shows
TERMS = strings(
    "terms",
    {
        "terms.due": (
            "账单出具后 {days} 个工作日内缴清；首张账单 {first} 个工作日内缴清。",
            "Each statement is due within {days} working days of issue, the first one within "
            "{first}.",
        ),
        "terms.late_fee": (
            "逾期未缴的费用每日按 {rate} 收取滞纳金；逾期超过 {suspend} 个月暂停计费业务，"
            "超过 {terminate} 个月终止服务。",
            "Overdue fees cost {rate} of the amount a day; more than {suspend} month(s) overdue "
            "suspends chargeable services, more than {terminate} month(s) terminates the service.",
        ),
        "terms.rent_hold": (
            "应有权机关要求暂停服务期间，月租照常收取。",
            "While service is suspended at a competent authority's request, the monthly fee is "
            "still charged.",
        ),
        "terms.rent_arrears.charged": (
            "因欠费暂停服务期间，月租照常收取。",
            "While service is suspended for non-payment, the monthly fee is still charged.",
        ),
        "terms.rent_arrears.paused": (
            "因欠费暂停服务期间不收取月租，按暂停天数折算。",
            "No monthly fee is charged for the days service is suspended for non-payment.",
        ),
        "terms.credit.raise": (
            "后付费账户所订业务的月租超过信用额度时，信用额度相应提高所订月租的金额"
            "（最高 {max} 元）。",
            "When the monthly fees a postpaid account orders exceed its credit limit, the limit "
            "is raised by those fees (to at most {max} yuan).",
        ),
        "terms.credit.refuse": (
            "后付费账户所订业务的月租超过信用额度时不予受理，请先调高信用额度。",
            "An order whose monthly fees exceed a postpaid account's credit limit is refused: "
            "raise the credit limit first.",
        ),
        "terms.credit.allow": (
            "后付费账户所订业务的月租超过信用额度时照常受理；月租计入信用额度，"
            "计费业务可能因此暂停。",
            "An order whose monthly fees exceed a postpaid account's credit limit is accepted; "
            "the fees count against the limit, which may pause chargeable services.",
        ),
        "terms.payment_order": (
            "缴费先抵扣最早到期的欠费；同一日到期的，先抵扣费用，后抵扣滞纳金，"
            "因此缴清费用后不再产生滞纳金。",
            "A payment settles the debts that fell due first; of those due on the same day, "
            "charges before late fees, so no late fee accrues on charges you have paid.",
        ),
        "terms.terminated.refused": (
            "服务终止后不能再发起任何通话（包括免费通话）。",
            "Once the service is terminated, no call can be placed, free calls included.",
        ),
        "terms.terminated.allowed": (
            "服务终止后仅可发起免费通话。",
            "Once the service is terminated, only free calls can be placed.",
        ),
        "terms.incident": (
            "因运营方原因连续中断服务 {hours} 小时及以上的，按中断时长减免相应月租。",
            "Interruptions caused by the operator lasting {hours} hours or more are credited "
            "in proportion to the monthly fee.",
        ),
    },
)

# how a payment was made
PAYMENTS = strings(
    "payment",
    {
        "payment.method.bank_transfer": ("银行转账", "Bank transfer"),
        "payment.method.cash": ("现金", "Cash"),
        "payment.method.card": ("银行卡", "Card"),
        "payment.method.provider": ("在线支付", "Online payment"),
    },
)

# a statement's lines
STATEMENTS = strings(
    ("line", "operator"),
    {
        "line.previous_balance": ("上期结余", "Previous balance"),
        "line.rent": (
            "{product} 月租 {first} 至 {last}（{days}/{cycle_days} 天）",
            "{product} monthly fee {first} – {last} ({days}/{cycle_days} days)",
        ),
        "line.rent_back": (
            "{product} 未用天数退还 {first} 至 {last}（{days}/{cycle_days} 天）",
            "{product} unused days returned {first} – {last} ({days}/{cycle_days} days)",
        ),
        "line.rent_suspended": (
            "{product} 欠费停机期间月租退还 {first} 至 {last}（{days}/{cycle_days} 天）",
            "{product} monthly fee returned while suspended {first} – {last} "
            "({days}/{cycle_days} days)",
        ),
        "line.rent_resumed": (
            "{product} 恢复服务后月租 {first} 至 {last}（{days}/{cycle_days} 天）",
            "{product} monthly fee from resumption {first} – {last} ({days}/{cycle_days} days)",
        ),
        "line.late_fee": (
            "滞纳金 {day}（{base} 元 × {rate}）",
            "Late fee {day} ({base} yuan × {rate})",
        ),
        "line.late_fee_correction": (
            "滞纳金更正 {day}（已收 {was} 元，应为 {base} 元 × {rate} = {now} 元）",
            "Late fee correction {day} ({was} yuan charged; {base} yuan × {rate} = {now} yuan)",
        ),
        "line.payment": ("缴费，收据 {receipt}", "Payment, receipt {receipt}"),
        "line.credit": ("减免：{why}", "Credit: {why}"),
        "line.credit_incident": (
            "服务中断减免：{title}（{start} 至 {end}，{hours} 小时，{product}）",
            "Service interruption credit: {title} ({start} – {end}, {hours} h, {product})",
        ),
        "line.credit_dispute": (
            "账单争议 #{dispute} 减免（账单 {number}）",
            "Credit for billing dispute #{dispute} (statement {number})",
        ),
        "line.rate_per_day": ("{rate}/日", "{rate}/day"),
        "line.adjustment": (
            "资费更正：{usage_at} 的通话",
            "Tariff correction: usage of {usage_at}",
        ),
        "line.rate": ("{price} 元/分钟（{increment}）", "{price} yuan/min ({increment})"),
        "operator.name": ("云通", "Yuntong"),
    },
)

# the names of the usage types (the API returns codes)
USAGE = strings("usage", {f"usage.{t.code}": (t.name_zh, t.name_en) for t in USAGE_TYPES.values()})

STRINGS = (DISPUTES, TERMS, PAYMENTS, STATEMENTS, USAGE)
