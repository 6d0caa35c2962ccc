"""The customer notices' words: subject and body of each kind (zh-CN, en)."""

from __future__ import annotations

from yuntong.core.i18n import strings

# kind -> ((subject zh, subject en), (body zh, body en)): "notice.<kind>.subject" / ".body"
NOTICE_TEXTS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "statement_issued": (
        ("账单 {number} 已出：应付 {total} 元", "Statement {number}: {total} yuan due"),
        (
            "账单 {number} 已出账，应付 {total} 元，请于 {due_on} 前缴费。明细见附件或网上营业厅。",
            "Statement {number} is issued: {total} yuan is due by {due_on}. "
            "The itemised bill is attached and online.",
        ),
    ),
    "due_soon": (
        ("账单 {number} 将于 {due_on} 到期", "Statement {number} is due on {due_on}"),
        (
            "账单 {number} 尚有 {open} 元未付，到期日 {due_on}。逾期每日按 {rate} 收取滞纳金。",
            "{open} yuan of statement {number} is unpaid and due on {due_on}. "
            "After that a late fee of {rate} per day applies.",
        ),
    ),
    "overdue": (
        ("账单 {number} 已逾期", "Statement {number} is overdue"),
        (
            "账单 {number} 已于 {due_on} 到期，尚欠 {open} 元，自次日起每日按 {rate} 收取滞纳金。",
            "Statement {number} was due on {due_on}; {open} yuan is unpaid. "
            "A late fee of {rate} per day accrues from the next day.",
        ),
    ),
    "suspension_soon": (
        ("欠费停机提醒", "Service will be suspended for non-payment"),
        (
            "您的账户欠费 {open} 元，如 {on} 前仍未缴清，计费业务将暂停。",
            "{open} yuan is overdue. Unless it is paid before {on}, "
            "chargeable services will be suspended.",
        ),
    ),
    "suspended": (
        ("计费业务已暂停", "Chargeable services suspended"),
        (
            "因欠费超过一个月，计费业务已暂停。缴清 {open} 元后自动恢复；"
            "登录、查账、缴费和免费接听不受影响。",
            "More than one month overdue: chargeable services are suspended. Paying {open} yuan "
            "lifts it; logging in, statements, payment and receiving calls still work.",
        ),
    ),
    "termination_soon": (
        ("欠费销户提醒", "The account will be terminated for non-payment"),
        (
            "您的账户欠费 {open} 元，如 {on} 前仍未缴清，账户将被注销并依法追缴欠费及滞纳金。",
            "{open} yuan is overdue. Unless it is paid before {on}, the account will be "
            "terminated and the arrears and late fees pursued.",
        ),
    ),
    "terminated": (
        ("账户已注销", "The account is terminated"),
        (
            "账户已注销。尚欠 {open} 元，将依法追缴。",
            "The account is terminated. {open} yuan remains owed and will be pursued.",
        ),
    ),
    "credit_80": (
        ("已用信用额度 80%", "80% of your credit limit used"),
        (
            "当前应付 {owed} 元，已达信用额度 {limit} 元的 80%。",
            "You owe {owed} yuan, 80% of your {limit} yuan credit limit.",
        ),
    ),
    "credit_100": (
        ("已达信用额度", "Credit limit reached"),
        (
            "当前应付 {owed} 元，已达信用额度 {limit} 元；超过额度后计费业务暂停，缴费后恢复。",
            "You owe {owed} yuan, your full {limit} yuan credit limit. Chargeable services "
            "pause once you owe more, until you pay.",
        ),
    ),
    "price_change": (
        ("资费调整通知：{product}", "Price change: {product}"),
        (
            "{product} 的资费将于 {effective_on} 起调整：月租 {fee} 元。详见资费公示页面。{note}",
            "{product} changes price from {effective_on}: monthly fee {fee} yuan. "
            "See the published price list. {note}",
        ),
    ),
    "payment_received": (
        ("已收到缴费 {amount} 元", "Payment of {amount} yuan received"),
        (
            "已收到缴费 {amount} 元，收据号 {receipt}。",
            "We received {amount} yuan, receipt {receipt}.",
        ),
    ),
    "dispute_update": (
        ("账单争议 #{dispute} 有新进展", "Billing dispute #{dispute} was updated"),
        (
            "您对账单 {number} 提出的争议状态：{state}。{note}",
            "Your dispute about statement {number} is now: {state}. {note}",
        ),
    ),
}
STRINGS = strings(
    "notice",
    {
        **{f"notice.{k}.subject": pair for k, (pair, _body) in NOTICE_TEXTS.items()},
        **{f"notice.{k}.body": pair for k, (_subject, pair) in NOTICE_TEXTS.items()},
    },
)
