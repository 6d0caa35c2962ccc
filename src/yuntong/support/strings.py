"""The desk widget's words (zh-CN, en): the widget runs on the platform's page, so it reads
them from ``GET /api/v1/support/widget/<key>/config`` instead of a page's catalogue."""

from __future__ import annotations

from yuntong.core.i18n import catalog, strings

STRINGS = strings(
    "widget",
    {
        "widget.open": ("在线客服", "Chat with us"),
        "widget.close": ("关闭", "Close"),
        "widget.title": ("在线客服", "Support"),
        "widget.start": ("开始咨询", "Start chatting"),
        "widget.placeholder": ("输入消息，按 Enter 发送", "Type a message, Enter to send"),
        "widget.send": ("发送", "Send"),
        "widget.you": ("我", "You"),
        "widget.agent": ("客服", "Agent"),
        "widget.waiting": (
            "正在为您安排客服：前面还有 {ahead} 位，预计等待约 {minutes} 分钟",
            "Finding an agent for you: {ahead} ahead of you, about {minutes} min to wait",
        ),
        "widget.next": (
            "您是下一位，预计等待约 {minutes} 分钟",
            "You are next, about {minutes} min to wait",
        ),
        "widget.no_agents": (
            "当前没有客服在线，您可以留言，客服上线后会尽快回复",
            "No agent is online right now: leave a message and we will answer as soon as we can",
        ),
        "widget.assigned": ("{agent} 正在为您服务", "{agent} is with you"),
        "widget.resolved": (
            "本次会话已结束，再次发送消息即可继续咨询",
            "This conversation is resolved: write again to reopen it",
        ),
        "widget.offline": ("连接已断开，正在重连…", "Connection lost, reconnecting…"),
        "widget.failed": ("发送失败：{message}", "Not sent: {message}"),
        "widget.required": ("必填", "Required"),
    },
)


def widget_strings(locale: str) -> dict[str, str]:
    return catalog(locale, "widget.")
