"""Web strings (zh-CN, en): the conference-call pages (the list and form, a conference)."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        "ui.nav.conferences": ("电话会议", "Conference calls"),
        "ui.conferences.title": ("电话会议", "Conference calls"),
        "ui.conferences.room_title": ("电话会议", "Conference call"),
        "ui.conferences.new": ("发起电话会议", "Open a conference call"),
        "ui.conferences.field.title": ("主题", "Title"),
        "ui.conferences.field.dial_in": ("入会号码", "Dial-in number"),
        "ui.conferences.field.pin": ("PIN 码（4–8 位数字）", "PIN (4–8 digits)"),
        "ui.conferences.open": ("发起", "Open"),
        "ui.conferences.empty": ("还没有电话会议", "No conference calls yet"),
        "ui.conferences.col.title": ("主题", "Title"),
        "ui.conferences.col.dial": ("电话入会拨打", "Phones dial"),
        "ui.conferences.col.state": ("状态", "State"),
        "ui.conferences.state.open": ("进行中", "Open"),
        "ui.conferences.state.ended": ("已结束", "Ended"),
        "ui.conferences.locked": ("已锁定", "Locked"),
        "ui.conferences.dial_hint": (
            "电话拨打 {number}*PIN 码即可入会",
            "Phones join by dialling {number}*PIN",
        ),
        "ui.conferences.pin": ("PIN 码", "PIN"),
        "ui.conferences.join": ("用浏览器加入", "Join in the browser"),
        "ui.conferences.leave": ("离开", "Leave"),
        "ui.conferences.joined": ("您已加入，正在通话", "You are in the call"),
        "ui.conferences.no_microphone": (
            "无法使用麦克风，请允许浏览器访问麦克风",
            "The microphone is not available; allow the browser to use it",
        ),
        "ui.conferences.participants": ("参会方", "Participants"),
        "ui.conferences.col.name": ("名称", "Name"),
        "ui.conferences.col.kind": ("方式", "Via"),
        "ui.conferences.col.joined": ("加入", "Joined"),
        "ui.conferences.col.minutes": ("计费时长", "Billed"),
        "ui.conferences.kind.browser": ("浏览器", "Browser"),
        "ui.conferences.kind.phone": ("SIP 话机", "SIP phone"),
        "ui.conferences.kind.outside": ("外部来电", "Outside caller"),
        "ui.conferences.muted": ("已静音", "Muted"),
        "ui.conferences.mute": ("静音", "Mute"),
        "ui.conferences.unmute": ("取消静音", "Unmute"),
        "ui.conferences.remove": ("移出", "Remove"),
        "ui.conferences.mute_all": ("全体静音", "Mute all"),
        "ui.conferences.unmute_all": ("全体取消静音", "Unmute all"),
        "ui.conferences.lock": ("锁定", "Lock"),
        "ui.conferences.unlock": ("解锁", "Unlock"),
        "ui.conferences.end": ("结束会议", "End for all"),
        "ui.conferences.end_confirm": (
            "结束后所有参会方（包括电话）将被挂断，确定吗？",
            "Everyone, phones too, will be hung up. End the conference call?",
        ),
        "ui.conferences.nobody": ("暂时没有人", "Nobody is in yet"),
        "ui.conferences.left": ("已离开", "Left"),
        "ui.conferences.dial_number": ("呼叫号码加入", "Call a number in"),
        "ui.conferences.dial": ("呼叫", "Call"),
        "ui.conferences.ringing": ("正在呼叫", "Ringing"),
    },
)
