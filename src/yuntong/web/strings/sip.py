"""Web strings (zh-CN, en): a number's SIP phone account on the numbers page (status, the
password shown once, rotate, remove) and the SIP calls on the call history page."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        "ui.sip.title": ("SIP 话机", "SIP phone"),
        "ui.sip.none": (
            "还没有 SIP 账号：生成密码后，桌面话机或软电话即可用这个号码注册。",
            "No SIP account yet: make a password and a desk phone or softphone can register "
            "with this number.",
        ),
        "ui.sip.made_on": ("SIP 账号密码生成于 {date}", "SIP account password made on {date}"),
        "ui.sip.registered_unknown": (
            "现在无法查询已注册的话机（SIP 服务没有应答）",
            "Registered phones unknown now (the SIP edge did not answer)",
        ),
        "ui.sip.registered_none": ("现在没有话机注册", "No phone registered now"),
        "ui.sip.registered_count": (
            "现在有 {count} 部话机注册：",
            "Phones registered now: {count}",
        ),
        "ui.sip.make": ("生成 SIP 密码", "Make SIP password"),
        "ui.sip.rotate": ("更换密码", "New password"),
        "ui.sip.remove": ("删除 SIP 账号", "Remove SIP account"),
        "ui.sip.rotate_question": (
            "为 {number} 生成新的 SIP 密码？旧密码立即失效，用旧密码的话机将无法再注册或拨打电话。",
            "Make a new SIP password for {number}? The old one stops working at once: phones "
            "using it can no longer register or call.",
        ),
        "ui.sip.remove_question": (
            "删除 {number} 的 SIP 账号？使用它的话机将无法再注册或拨打电话。",
            "Remove the SIP account of {number}? Its phones can no longer register or call.",
        ),
        "ui.sip.removed": ("已删除 {number} 的 SIP 账号", "SIP account of {number} removed"),
        "ui.sip.dialog_title": ("{number} 的 SIP 账号", "SIP account of {number}"),
        "ui.sip.shown_once": (
            "密码只显示这一次，关闭后无法再次查看。请现在把它填进话机或保存好；忘记了只能重新生成。",
            "The password is shown only this once: it cannot be seen again after you close "
            "this. Enter it in your phone or keep it safe now; if lost, make a new one.",
        ),
        "ui.sip.username": ("用户名", "User name"),
        "ui.sip.password": ("密码", "Password"),
        "ui.sip.domain": ("域 / Realm", "Domain / realm"),
        "ui.sip.registrar": ("注册服务器", "Registrar"),
        "ui.sip.transports": ("传输方式", "Transports"),
        "ui.sip.copy": ("复制", "Copy"),
        "ui.sip.copied": ("已复制", "Copied"),
        "ui.sip.copy_by_hand": ("已选中，请按 Ctrl+C 复制", "Selected: press Ctrl+C to copy"),
        "ui.sip.saved_it": ("我已保存", "I have saved it"),
        # the SIP calls on the call history page
        "ui.sipcalls.title": ("SIP 通话", "SIP calls"),
        "ui.sipcalls.intro": (
            "您的 SIP 话机（桌面话机、软电话）拨出和接听的电话。",
            "Calls your SIP phones (desk phones, softphones) made and received.",
        ),
        "ui.sipcalls.empty": ("还没有 SIP 通话", "No SIP calls yet"),
        "ui.sipcalls.col.time": ("时间", "Time"),
        "ui.sipcalls.col.direction": ("类型", "Direction"),
        "ui.sipcalls.col.from": ("主叫", "From"),
        "ui.sipcalls.col.to": ("被叫", "To"),
        "ui.sipcalls.col.outcome": ("结果", "Outcome"),
        "ui.sipcalls.col.duration": ("时长", "Duration"),
        "ui.sipcalls.col.pdd": ("接续时延", "Post-dial delay"),
        "ui.sipcalls.direction.internal": ("网内", "Internal"),
        "ui.sipcalls.direction.outbound": ("拨往外网", "To the public network"),
        "ui.sipcalls.direction.inbound": ("来自外网", "From the public network"),
        "ui.sipcalls.in_progress": ("进行中", "In progress"),
        "ui.sipcalls.withheld": ("号码已隐藏", "Number withheld"),
        "ui.sipcalls.unknown": ("未知", "Unknown"),
        "ui.sipcalls.pdd_ms": ("{ms} 毫秒", "{ms} ms"),
    },
)
