"""Web strings (zh-CN, en): the supplementary services page and keypad codes on the dial pad."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        "ui.nav.services": ("增值业务", "Services"),
        "ui.services.title": ("增值业务", "Call services"),
        "ui.services.not_ordered": (
            "未订购：请先在“账单与套餐”中订购后再开通。",
            "Not ordered: order it under Billing before switching it on.",
        ),
        "ui.services.saved": ("已保存", "Saved"),
        "ui.services.caller_id": ("来电显示与号码隐藏", "Caller ID"),
        "ui.services.clip": (
            "来电时显示对方号码与归属地",
            "Show callers' numbers and where they are from",
        ),
        "ui.services.clir": ("隐藏我的号码", "Withhold my number"),
        "ui.services.clir.off": ("未开通", "Not activated"),
        "ui.services.clir.temporary": (
            "默认显示，单次隐藏（拨 #31# + 号码）",
            "Shown; withhold per call (dial #31# + number)",
        ),
        "ui.services.clir.always": (
            "始终隐藏，单次显示（拨 *31# + 号码）",
            "Always withheld; show per call (dial *31# + number)",
        ),
        "ui.services.forwarding": ("呼叫转移", "Call forwarding"),
        "ui.services.cfu": ("无条件转移到", "Always forward to"),
        "ui.services.cfb": ("遇忙转移到", "When busy, forward to"),
        "ui.services.cfnry": ("无应答转移到", "When unanswered, forward to"),
        "ui.services.cfnry_timer": ("无应答等待（5–30 秒）", "Ring for (5–30 s)"),
        "ui.services.cfnrc": ("不可及转移到", "When unreachable, forward to"),
        "ui.services.forwarding_hint": (
            "留空即关闭。转移出去的通话由您付费。",
            "Leave empty to switch off. You pay for calls you forward.",
        ),
        "ui.services.barring": ("呼叫限制", "Call barring"),
        "ui.services.bar_outgoing": ("限制所有呼出", "Bar all outgoing calls"),
        "ui.services.bar_international": ("限制国际呼出", "Bar outgoing international calls"),
        "ui.services.bar_incoming": ("限制所有呼入", "Bar all incoming calls"),
        "ui.services.bar_anonymous": ("拒接隐藏号码的来电", "Reject anonymous calls"),
        "ui.services.list_mode": ("呼入名单", "Incoming list"),
        "ui.services.list_mode.off": ("不使用", "Not used"),
        "ui.services.list_mode.blacklist": (
            "黑名单：拒接名单中的号码",
            "Blacklist: bar these numbers",
        ),
        "ui.services.list_mode.whitelist": (
            "白名单：只接名单中的号码",
            "Whitelist: only these numbers",
        ),
        "ui.services.list": ("号码（每行一个）", "Numbers (one a line)"),
        "ui.services.pin": ("呼叫限制密码", "Barring PIN"),
        "ui.services.pin_new": ("新密码（4 位数字）", "New PIN (4 digits)"),
        "ui.services.pin_old": ("原密码", "Current PIN"),
        "ui.services.pin_set": ("密码已设置", "PIN set"),
        "ui.services.codes": ("拨号盘业务代码", "Keypad codes"),
        "ui.services.codes_hint": (
            "也可在拨号盘中输入：*21*号码# 开无条件转移，#21# 关闭，*#21# 查询；"
            "*61*号码*秒数# 无应答转移；*33*密码# 限制呼出。",
            "Or dial on the dial pad: *21*number# forwards always, #21# stops, *#21# asks; "
            "*61*number*seconds# forwards when unanswered; *33*PIN# bars outgoing calls.",
        ),
        "ui.services.mmi_done": ("{service}：{state}", "{service}: {state}"),
        "ui.services.on": ("已开启", "on"),
        "ui.services.off": ("已关闭", "off"),
        # why a call ended, told to the caller
        "ui.call.reason.barred_outgoing": ("您已限制呼出", "You bar your outgoing calls"),
        "ui.call.reason.barred_international": (
            "您已限制国际呼出",
            "You bar your outgoing international calls",
        ),
        "ui.call.reason.barred_incoming": ("对方限制了来电", "The callee bars this call"),
        "ui.call.reason.anonymous_rejected": (
            "对方拒接隐藏号码的来电",
            "The callee rejects anonymous calls",
        ),
        "ui.call.reason.forwarding_loop": (
            "呼叫转移设置形成循环，无法接通",
            "The call's forwarding goes round in a loop",
        ),
        # call waiting (TS 22.083)
        "ui.services.waiting": ("呼叫等待", "Call waiting"),
        "ui.services.waiting_on": (
            "通话中有新来电时提示我（呼叫等待）",
            "Let a second call wait while I am in a call",
        ),
        "ui.services.waiting_hint": (
            "新来电以提示音提醒：可保持或结束当前通话后接听，或拒接（对方听到忙音，"
            "按遇忙转移处理），无人接听时按无应答或遇忙转移处理。"
            "拨号盘代码：*43# 开启，#43# 关闭，*#43# 查询。",
            "A second call plays a waiting tone: answer it by holding or ending the current "
            "call, or reject it (the caller hears busy and your forwarding on busy applies); "
            "unanswered, it forwards as on no reply or on busy. Keypad codes: *43# on, "
            "#43# off, *#43# ask.",
        ),
    },
)
