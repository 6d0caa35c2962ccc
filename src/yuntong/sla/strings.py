"""The status page's words shared by the page, the Atom feed and the e-mails (zh-CN, en):
component states, incident statuses, maintenance states, and the e-mails' subjects and bodies."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "status",
    {
        "status.name": ("云通服务状态", "Yuntong status"),
        "status.state.operational": ("正常运行", "Operational"),
        "status.state.maintenance": ("维护中", "Under maintenance"),
        "status.state.degraded": ("性能下降", "Degraded performance"),
        "status.state.partial_outage": ("部分中断", "Partial outage"),
        "status.state.major_outage": ("严重中断", "Major outage"),
        "status.state.no_data": ("无数据", "No data"),
        "status.overall.operational": ("所有系统运行正常", "All systems operational"),
        "status.overall.maintenance": ("部分系统维护中", "Maintenance in progress"),
        "status.overall.degraded": ("部分系统性能下降", "Some systems degraded"),
        "status.overall.partial_outage": ("部分系统中断", "Partial system outage"),
        "status.overall.major_outage": ("重大系统中断", "Major system outage"),
        "status.status.investigating": ("调查中", "Investigating"),
        "status.status.identified": ("已确定原因", "Identified"),
        "status.status.monitoring": ("监控中", "Monitoring"),
        "status.status.resolved": ("已解决", "Resolved"),
        "status.maintenance.scheduled": ("已计划", "Scheduled"),
        "status.maintenance.in_progress": ("进行中", "In progress"),
        "status.maintenance.completed": ("已完成", "Completed"),
        "status.maintenance.cancelled": ("已取消", "Cancelled"),
        "status.window": ("{start} 至 {end}（{tz}）", "{start} to {end} ({tz})"),
        "status.affects": ("影响范围：{components}", "Affects: {components}"),
        "status.mail.footer": (
            "查看服务状态：{page}\n退订状态通知：{unsubscribe}",
            "Status page: {page}\nUnsubscribe from status e-mails: {unsubscribe}",
        ),
        "status.mail.confirm.subject": (
            "请确认订阅云通服务状态",
            "Confirm your Yuntong status subscription",
        ),
        "status.mail.confirm.body": (
            "您（或他人）用此地址订阅了云通服务状态通知。请在 {hours} 小时内打开以下链接确认："
            "\n{link}\n\n如非本人操作，请忽略此邮件，不会再收到任何邮件。",
            "You (or someone) subscribed this address to Yuntong status e-mails. Confirm within "
            "{hours} hours by opening:\n{link}\n\nIf it was not you, ignore this e-mail: nothing "
            "more will be sent.",
        ),
        "status.mail.update.subject": ("[{status}] {title}", "[{status}] {title}"),
        "status.mail.maintenance.scheduled.subject": (
            "[计划维护] {title}",
            "[Scheduled maintenance] {title}",
        ),
        "status.mail.maintenance.cancelled.subject": (
            "[维护取消] {title}",
            "[Maintenance cancelled] {title}",
        ),
    },
)
