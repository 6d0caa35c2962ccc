"""What meetings tell people in words: the invitation e-mail (zh-CN, en)."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "meeting",
    {
        "meeting.invite.subject": ("会议邀请：{title}", "Invitation: {title}"),
        "meeting.invite.subject_cancelled": ("会议已取消：{title}", "Cancelled: {title}"),
        "meeting.invite.intro": (
            "{host} 邀请您参加云通视频会议。",
            "{host} invites you to a Yuntong video meeting.",
        ),
        "meeting.invite.intro_cancelled": (
            "{host} 已取消以下云通视频会议。",
            "{host} has cancelled this Yuntong video meeting.",
        ),
        "meeting.invite.title": ("主题：{value}", "Title: {value}"),
        "meeting.invite.time": ("时间：{value}", "Time: {value}"),
        "meeting.invite.duration": ("时长：{minutes} 分钟", "Duration: {minutes} min"),
        "meeting.invite.repeat": ("重复：{value}", "Repeats: {value}"),
        "meeting.invite.repeat_count": ("{rule}，共 {count} 次", "{rule}, {count} times"),
        "meeting.invite.repeat.daily": ("每天", "daily"),
        "meeting.invite.repeat.weekly": ("每周", "weekly"),
        "meeting.invite.repeat.weekdays": ("每个工作日（周一至周五）", "every weekday (Mon–Fri)"),
        "meeting.invite.join": ("入会链接：{value}", "Join: {value}"),
        "meeting.invite.number": ("会议号：{value}", "Meeting number: {value}"),
        "meeting.invite.passcode": ("密码：{value}", "Passcode: {value}"),
        "meeting.invite.calendar": (
            "附件 {filename} 可添加到日历。",
            "Add the attached {filename} to your calendar.",
        ),
    },
)
