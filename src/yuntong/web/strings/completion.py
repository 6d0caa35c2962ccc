"""Web strings (zh-CN, en): the completion rate (CP 2.1), for operator staff and customers."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        "ui.completion.title": ("接通率", "Completion rate"),
        "ui.completion.nav": ("接通率", "Completion"),
        "ui.completion.explain": (
            "网络接通率（NER，ITU-T E.425）= 应答、用户忙、无应答及用户拒接（用户原因）的呼叫"
            "占全部呼叫尝试的比例，合同承诺的 98% 即指此项；应答率（ASR，ITU-T E.411）= 应答"
            "占全部尝试的比例。按业务时区的自然日统计，只有网络原因的失败才计入未接通。",
            "Network effectiveness ratio (NER, ITU-T E.425) = attempts answered, met a busy "
            "user, not answered or rejected by the user, over all attempts: the contract's 98% "
            "is this figure. Answer-seizure ratio (ASR, ITU-T E.411) = answered over all "
            "attempts. Days are business days; only network failures count against the NER.",
        ),
        "ui.completion.from": ("开始日期", "From"),
        "ui.completion.to": ("结束日期", "To"),
        "ui.completion.customer": ("客户（计费账户）", "Customer (account)"),
        "ui.completion.all_customers": ("全部客户", "All customers"),
        "ui.completion.number": ("主叫号码", "Calling number"),
        "ui.completion.all_numbers": ("全部号码", "All numbers"),
        "ui.completion.show": ("查看", "Show"),
        "ui.completion.range": ("统计期间", "Period"),
        "ui.completion.day": ("日期", "Day"),
        "ui.completion.attempts": ("呼叫尝试", "Attempts"),
        "ui.completion.answered": ("应答", "Answered"),
        "ui.completion.effective": ("有效", "Effective"),
        "ui.completion.failures": ("网络失败", "Network failures"),
        "ui.completion.asr": ("应答率 ASR", "ASR"),
        "ui.completion.ner": ("网络接通率 NER", "NER"),
        "ui.completion.reasons": ("失败原因", "Failure reasons"),
        "ui.completion.contract": ("合同值", "Contract"),
        "ui.completion.contract_is": ("合同 NER ≥ {ner}%", "Contract: NER ≥ {ner}%"),
        "ui.completion.below": ("低于合同值", "Below the contract"),
        "ui.completion.chart": ("每日接通率", "Daily completion"),
        "ui.completion.chart_label": (
            "{from} 至 {to} 每日网络接通率与应答率；期间 NER {ner}，{below} 天低于合同值",
            "NER and ASR per day from {from} to {to}; NER over the period {ner}, "
            "{below} days below the contract",
        ),
        "ui.completion.no_attempts": ("此期间没有呼叫尝试", "No call attempts in this period"),
        "ui.completion.days": ("按日", "By day"),
        "ui.completion.days_hint": (
            "最新的在前；没有呼叫尝试的日期不列出（没有接通率）",
            "Newest first; days without attempts (and so without a ratio) are not listed",
        ),
        "ui.completion.customers": ("按客户（NER 最低在前）", "By customer (worst NER first)"),
        "ui.completion.numbers": ("按号码（NER 最低在前）", "By number (worst NER first)"),
        "ui.completion.alerts": ("告警：低于合同值的日期", "Alerts: days below the contract"),
        "ui.completion.alerts_empty": ("没有告警", "No alerts"),
        "ui.completion.raised": ("告警时间", "Raised"),
        "ui.completion.cause_other": ("原因值 {cause}", "Cause {cause}"),
        "ui.completion.cause.temporary_failure": ("临时故障", "Temporary failure"),
        "ui.completion.cause.normal_unspecified": ("连接中断", "Connection lost"),
    },
)
