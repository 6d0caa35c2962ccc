"""The terminals' words (zh-CN, en)."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "device",
    {
        "device.refusal.expired": (
            "保修期已于 {ends} 届满，本次维修不在保修范围内",
            "The warranty ended on {ends}; this repair is not covered",
        ),
        "device.refusal.opened_by_other": (
            "终端曾被非本公司人员拆修，保修已失效",
            "The device was opened by someone other than the operator, so the warranty is void",
        ),
    },
)
