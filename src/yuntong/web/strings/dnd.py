"""Web strings (zh-CN, en): do-not-disturb and its schedules ("quiet hours"), on the services
page and beside the contacts page's switch."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        "ui.dnd.title": ("勿扰模式", "Do not disturb"),
        "ui.dnd.now": ("现在勿扰", "Do not disturb now"),
        "ui.dnd.intro": (
            "勿扰时来电将以“忙”结束（已开通遇忙转移的将转移），联系人看到您的状态为“勿扰”。",
            "While on, calls to you end busy (or forward, with call forwarding on busy) and your "
            "contacts see you as “do not disturb”.",
        ),
        "ui.dnd.state.manual": ("勿扰已开启，直到您关闭", "On until you switch it off"),
        "ui.dnd.state.schedule": (
            "勿扰时段中，{until} 结束",
            "Quiet hours: on until {until}",
        ),
        "ui.dnd.state.off": ("勿扰已关闭", "Off"),
        "ui.dnd.state.next": ("下一勿扰时段 {at} 开始", "Next quiet hours start {at}"),
        "ui.dnd.state.paused": (
            "您已在本时段中关闭勿扰，{until} 起时段恢复",
            "You switched it off for these quiet hours; schedules apply again from {until}",
        ),
        "ui.dnd.schedules": ("勿扰时段", "Quiet hours"),
        "ui.dnd.schedules_link": ("设置勿扰时段", "Quiet hours…"),
        "ui.dnd.hint": (
            "时间按{zone}计算。“工作日”和“休息日”按国家法定节假日安排，含调休上班日。"
            "跨过午夜的时段（如 22:00–07:30）属于开始的那一天。",
            "Times are in {zone}. Workdays and rest days follow the official holiday "
            "calendar, make-up working days (调休) included. Quiet hours that cross midnight "
            "(e.g. 22:00–07:30) belong to the day they start.",
        ),
        "ui.dnd.empty": ("尚未设置勿扰时段", "No quiet hours yet"),
        "ui.dnd.add": ("添加勿扰时段", "Add quiet hours"),
        "ui.dnd.edit_title": ("修改勿扰时段", "Change quiet hours"),
        "ui.dnd.name": ("名称（可选）", "Name (optional)"),
        "ui.dnd.name_placeholder": ("如：睡觉", "e.g. Night"),
        "ui.dnd.unnamed": ("勿扰时段", "Quiet hours"),
        "ui.dnd.days": ("重复", "Repeat"),
        "ui.dnd.days.every_day": ("每天", "Every day"),
        "ui.dnd.days.workdays": ("工作日（含调休上班日）", "Workdays (make-up workdays included)"),
        "ui.dnd.days.rest_days": (
            "休息日（周末与法定节假日）",
            "Rest days (weekends and holidays)",
        ),
        "ui.dnd.days.weekdays": ("指定星期", "Chosen weekdays"),
        "ui.dnd.weekdays": ("星期", "Weekdays"),
        "ui.dnd.weekday.1": ("周一", "Mon"),
        "ui.dnd.weekday.2": ("周二", "Tue"),
        "ui.dnd.weekday.3": ("周三", "Wed"),
        "ui.dnd.weekday.4": ("周四", "Thu"),
        "ui.dnd.weekday.5": ("周五", "Fri"),
        "ui.dnd.weekday.6": ("周六", "Sat"),
        "ui.dnd.weekday.7": ("周日", "Sun"),
        "ui.dnd.start": ("开始", "From"),
        "ui.dnd.end": ("结束", "Until"),
        "ui.dnd.overnight": ("次日", "next day"),
        "ui.dnd.whole_day": ("全天", "all day"),
        "ui.dnd.enabled": ("启用", "On"),
        "ui.dnd.limit": ("最多 {max} 个勿扰时段", "At most {max} quiet hours"),
        "ui.dnd.delete_confirm": ("删除勿扰时段“{name}”？", "Delete the quiet hours “{name}”?"),
        "ui.dnd.deleted": ("已删除", "Deleted"),
        "ui.dnd.not_ordered": (
            "定时免打扰为付费业务：请先在“账单与套餐”中订购后再添加时段。随时开关免打扰免费。",
            "Scheduled do-not-disturb is a paid service: order it under Billing before adding"
            " quiet hours. Switching do-not-disturb on and off is free.",
        ),
    },
)
