"""Web strings (zh-CN, en): the public status page, its subscription links, the staff's page."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        "ui.status.as_of": ("更新于 {time}（{tz}）", "As of {time} ({tz})"),
        "ui.status.components": ("服务组件", "Components"),
        "ui.status.history_days": ("最近 {days} 天", "Last {days} days"),
        "ui.status.days_ago": ("{days} 天前", "{days} days ago"),
        "ui.status.today": ("今天", "Today"),
        "ui.status.uptime": ("可用 {pct}%", "{pct}% uptime"),
        "ui.status.no_components": ("尚未设置服务组件", "No components yet"),
        "ui.status.maintenance": ("计划维护", "Scheduled maintenance"),
        "ui.status.past": ("近期故障", "Past incidents"),
        "ui.status.no_past": ("最近 14 天没有故障", "No incidents in the last 14 days"),
        "ui.status.subscribe": ("订阅状态通知", "Subscribe to updates"),
        "ui.status.subscribe_hint": (
            "每次故障更新和维护公告都会发邮件给您；每封邮件都有退订链接。",
            "You get an e-mail for every incident update and maintenance notice; every e-mail "
            "has an unsubscribe link.",
        ),
        "ui.status.email": ("电子邮件地址", "E-mail address"),
        "ui.status.subscribe_button": ("订阅", "Subscribe"),
        "ui.status.subscribe_sent": (
            "确认邮件已发送，请打开邮件中的链接完成订阅。",
            "A confirmation e-mail is on its way: open its link to finish subscribing.",
        ),
        "ui.status.feed": ("Atom 订阅源", "Atom feed"),
        "ui.status.back": ("返回服务状态", "Back to the status page"),
        "ui.status.confirm.title": ("确认订阅", "Confirm your subscription"),
        "ui.status.confirm.body": (
            "确认后，此地址将收到云通服务状态通知。",
            "Once confirmed, this address receives Yuntong status e-mails.",
        ),
        "ui.status.confirm.button": ("确认订阅", "Confirm"),
        "ui.status.confirm.done": ("订阅成功。", "You are subscribed."),
        "ui.status.unsubscribe.title": ("退订状态通知", "Unsubscribe from status e-mails"),
        "ui.status.unsubscribe.body": (
            "退订后，此地址不再收到云通服务状态通知。",
            "Once unsubscribed, this address receives no more status e-mails.",
        ),
        "ui.status.unsubscribe.button": ("退订", "Unsubscribe"),
        "ui.status.unsubscribe.done": ("已退订。", "You are unsubscribed."),
        "ui.status.staff.title": ("服务状态管理", "Status page"),
        "ui.status.staff.public": ("查看公开页面", "Public page"),
        "ui.status.staff.subscribers": ("{count} 位邮件订阅者", "{count} e-mail subscribers"),
        "ui.status.staff.set_state": ("手动状态", "Set state"),
        "ui.status.staff.key": ("标识", "Key"),
        "ui.status.staff.name_zh": ("中文名称", "Chinese name"),
        "ui.status.staff.name_en": ("英文名称", "English name"),
        "ui.status.staff.position": ("顺序", "Position"),
        "ui.status.staff.add_component": ("添加组件", "Add component"),
        "ui.status.staff.status": ("状态", "Status"),
        "ui.status.staff.message_zh": ("说明（中文）", "Message (Chinese)"),
        "ui.status.staff.message_en": ("说明（英文）", "Message (English)"),
        "ui.status.staff.post_update": ("发布更新", "Post update"),
        "ui.status.staff.open_incident": ("发布故障", "Open an incident"),
        "ui.status.staff.title_zh": ("标题（中文）", "Title (Chinese)"),
        "ui.status.staff.title_en": ("标题（英文）", "Title (English)"),
        "ui.status.staff.impacts": ("受影响的组件", "Affected components"),
        "ui.status.staff.not_affected": ("不受影响", "Not affected"),
        "ui.status.staff.open_button": ("发布", "Open incident"),
        "ui.status.staff.description_zh": ("内容（中文）", "Description (Chinese)"),
        "ui.status.staff.description_en": ("内容（英文）", "Description (English)"),
        "ui.status.staff.starts_at": ("开始时间", "Starts"),
        "ui.status.staff.ends_at": ("结束时间", "Ends"),
        "ui.status.staff.schedule": ("公告维护", "Schedule maintenance"),
        "ui.status.staff.cancel": ("取消维护", "Cancel"),
        "ui.status.staff.manage": ("管理", "Manage"),
        "ui.status.staff.hint": (
            "公开的服务状态页 /status：组件状态、故障及其进展、计划维护、邮件订阅。",
            "The public status page /status: components, incidents and their updates, "
            "maintenance, e-mail subscribers.",
        ),
    },
)
