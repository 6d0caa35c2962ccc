"""Web strings (zh-CN, en): the page shell, form fields, logging in, signing up, waiting
for approval."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        # shell
        "ui.app_name": ("云通", "Yuntong"),
        "ui.page_title": ("{page} · 云通", "{page} · Yuntong"),
        "ui.tagline": ("清晰、稳定的视频通话", "Clear, reliable video calls"),
        "ui.lang.other": ("English", "中文"),
        "ui.nav.contacts": ("联系人", "Contacts"),
        "ui.nav.history": ("通话记录", "Call history"),
        "ui.nav.account": ("账号", "Account"),
        "ui.nav.operator": ("运营管理", "Operator"),
        "ui.nav.billing": ("账单与缴费", "Billing"),
        "ui.nav.operator_billing": ("计费管理", "Billing desk"),
        "ui.nav.prices": ("资费公示", "Price list"),
        "ui.nav.logout": ("退出登录", "Log out"),
        "ui.nav.missed": ("{count} 个未接来电", "{count} missed calls"),
        "ui.nav.offline": ("连接已断开，正在重连…", "Connection lost, reconnecting…"),
        "ui.nav.menu": ("菜单", "Menu"),
        "ui.common.ok": ("确定", "OK"),
        "ui.common.save": ("保存", "Save"),
        "ui.common.cancel": ("取消", "Cancel"),
        "ui.common.edit": ("编辑", "Edit"),
        "ui.common.delete": ("删除", "Delete"),
        "ui.common.saved": ("已保存", "Saved"),
        "ui.common.prev": ("上一页", "Previous"),
        "ui.common.next": ("下一页", "Next"),
        "ui.common.page_of": (
            "第 {page} / {pages} 页，共 {total} 条",
            "Page {page} of {pages} · {total} in all",
        ),
        "ui.common.network_error": ("网络错误，请稍后重试", "Network error; please try again"),
        "ui.common.required": ("必填", "Required"),
        # fields
        "ui.field.username": ("用户名", "Username"),
        "ui.field.password": ("密码", "Password"),
        "ui.field.password_hint": (
            "至少 10 位，且不能与用户名相同",
            "At least 10 characters, different from the username",
        ),
        "ui.field.username_hint": (
            "3–32 位小写字母、数字、点、下划线或连字符",
            "3–32 lowercase letters, digits, dot, underscore or hyphen",
        ),
        "ui.field.display_name": ("显示名称", "Display name"),
        "ui.field.email": ("电子邮箱", "E-mail"),
        "ui.field.email_optional": ("电子邮箱（可选）", "E-mail (optional)"),
        "ui.field.phone": ("手机号码", "Mobile phone"),
        "ui.field.full_name": ("真实姓名", "Full legal name"),
        "ui.field.birth_date": ("出生日期", "Date of birth"),
        "ui.field.address": ("住址", "Address"),
        "ui.field.id_type": ("证件类型", "ID document"),
        "ui.field.id_type.resident_id": ("居民身份证", "Resident ID card"),
        "ui.field.id_type.passport": ("护照", "Passport"),
        "ui.field.id_type.other": ("其他证件", "Other document"),
        "ui.field.id_number": ("证件号码", "Document number"),
        "ui.field.employer": ("工作单位", "Employer"),
        "ui.field.legal_name": ("单位全称", "Full legal name of the organisation"),
        "ui.field.uscc": ("统一社会信用代码", "Unified social credit code"),
        "ui.field.legal_representative": ("法定代表人", "Legal representative"),
        "ui.field.contact_name": ("联系人姓名", "Contact person"),
        "ui.field.contact_phone": ("联系电话", "Contact phone"),
        "ui.field.org_address": ("单位地址", "Registered address"),
        "ui.field.language": ("语言", "Language"),
        "ui.field.current_password": ("当前密码", "Current password"),
        "ui.field.new_password": ("新密码", "New password"),
        "ui.field.reason": ("原因", "Reason"),
        "ui.field.status": ("状态", "Status"),
        "ui.field.role": ("角色", "Role"),
        # log in
        "ui.login.title": ("登录", "Log in"),
        "ui.login.submit": ("登录", "Log in"),
        "ui.login.no_account": ("还没有账号？", "No account yet?"),
        "ui.login.signup_link": ("立即注册", "Sign up"),
        "ui.login.registered": ("注册成功，请登录", "Registration complete — you can log in now"),
        "ui.login.logged_out": ("您已退出登录", "You have been logged out"),
        # sign up
        "ui.signup.title": ("注册", "Sign up"),
        "ui.signup.individual": ("个人用户", "Individual"),
        "ui.signup.organisation": ("企业用户", "Organisation"),
        "ui.signup.section.account": ("账号信息", "Account"),
        "ui.signup.section.identity": ("实名信息", "Identity"),
        "ui.signup.section.organisation": ("单位信息", "Organisation"),
        "ui.signup.section.admin": ("管理员账号", "Administrator account"),
        "ui.signup.privacy": (
            "实名信息仅用于提供服务，加密存储，不会向第三方披露。",
            "Identity data is used only to provide the service, stored encrypted and never "
            "disclosed to third parties.",
        ),
        "ui.signup.submit": ("提交注册", "Create account"),
        "ui.signup.have_account": ("已有账号？", "Already registered?"),
        "ui.signup.fix_fields": ("请修改标出的字段", "Please correct the marked fields"),
        # pending approval
        "ui.error.not_found.title": ("页面不存在", "Page not found"),
        "ui.error.not_found.body": (
            "您访问的地址不存在或已移动，请检查链接是否完整。",
            "The address you opened does not exist or has moved; check that the link is complete.",
        ),
        "ui.error.method.title": ("无法以这种方式访问", "This page cannot be used that way"),
        "ui.error.method.body": (
            "该地址不支持此操作，请从页面上的按钮或链接进入。",
            "This address does not accept that request; use the buttons and links on the pages.",
        ),
        "ui.error.home": ("返回首页", "Go to the home page"),
        "ui.pending.title": ("等待审核", "Awaiting approval"),
        "ui.pending.body": (
            "您的注册已提交。运营方审核通过后，您就可以登录并开始通话。",
            "Your registration has been submitted. You can log in and start calling as soon "
            "as the operator approves it.",
        ),
        "ui.pending.back": ("返回登录", "Back to log in"),
    },
)
