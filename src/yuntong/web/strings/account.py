"""Web strings (zh-CN, en): the account page and the operator console."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        # account
        "ui.account.title": ("账号与安全", "Account & security"),
        "ui.account.profile": ("个人资料", "Profile"),
        "ui.account.identity": ("实名信息", "Identity"),
        "ui.account.identity_note": (
            "默认隐藏，需要时点击显示；完整信息仅您本人可以查看。",
            "Hidden until you ask to see it; only you can see the full details.",
        ),
        "ui.account.show_identity": ("显示完整信息", "Show full details"),
        "ui.account.hide_identity": ("隐藏", "Hide"),
        "ui.account.password": ("修改密码", "Change password"),
        "ui.account.password_changed": ("密码已修改", "Password changed"),
        "ui.account.sessions": ("登录会话", "Sessions"),
        "ui.account.session_current": ("当前会话", "This session"),
        "ui.account.session_revoke": ("下线", "Revoke"),
        "ui.account.session_revoked": ("会话已下线", "Session revoked"),
        "ui.account.col.device": ("设备", "Device"),
        "ui.account.col.kind": ("类型", "Kind"),
        "ui.account.col.created": ("登录时间", "Signed in"),
        "ui.account.col.last_seen": ("最近活动", "Last active"),
        "ui.account.logout": ("退出登录", "Log out"),
        "ui.account.kind.web": ("网页", "Web"),
        "ui.account.kind.api": ("API", "API"),
        # operator
        "ui.operator.title": ("运营管理", "Operator console"),
        "ui.operator.pending": ("待审核注册", "Pending registrations"),
        "ui.operator.pending_empty": ("没有待审核的注册", "No registrations are waiting"),
        "ui.operator.approve": ("通过", "Approve"),
        "ui.operator.reject": ("驳回", "Reject"),
        "ui.operator.approved": ("已通过 {name}", "Approved {name}"),
        "ui.operator.rejected": ("已驳回 {name}", "Rejected {name}"),
        "ui.operator.reason_required": ("请填写原因", "Please give a reason"),
        "ui.operator.registered_at": ("注册时间", "Registered"),
        "ui.operator.kind": ("类型", "Kind"),
        "ui.operator.kind.individual": ("个人", "Individual"),
        "ui.operator.kind.organisation": ("企业", "Organisation"),
        "ui.operator.users": ("用户状态", "User status"),
        "ui.operator.users_empty": ("没有该状态的用户", "No users with this status"),
        "ui.operator.change_status": ("变更", "Change"),
        "ui.operator.status_changed": ("{name} 的状态已变为 {status}", "{name} is now {status}"),
    },
)
