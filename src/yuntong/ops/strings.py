"""What ``yuntong security check`` tells the operator (zh-CN, en), one string per finding."""

from __future__ import annotations

from yuntong.core.i18n import strings

SECURITY = strings(
    "security",
    {
        "security.level.error": ("问题", "PROBLEM"),
        "security.level.warning": ("注意", "warning"),
        "security.level.ok": ("正常", "ok"),
        "security.heading": ("检查结果", "finding"),
        "security.summary": (
            "{problems} 个问题，{warnings} 个提醒",
            "{problems} problems, {warnings} warnings",
        ),
        "security.weak_secret": (
            "密钥 {name} 过短或是示例值：请换成至少 32 个字符的随机值",
            "The secret {name} is short or an example value: use at least 32 random characters",
        ),
        "security.no_backup_key": (
            "未设置备份密钥（YUNTONG_BACKUP_KEY）：无法备份",
            "No backup key (YUNTONG_BACKUP_KEY): no backup can be made",
        ),
        "security.bad_key": (
            "{name} 不是 32 字节的 URL 安全 Base64 密钥",
            "{name} is not a 32-byte key in URL-safe base64",
        ),
        "security.key_reused": (
            "同一个密钥用于多种用途（PII 密钥、备份密钥、会话密钥须各不相同）",
            "One key serves several purposes (PII keys, backup key and secret key must differ)",
        ),
        "security.secrets_ok": ("密钥均已设置且足够强", "Every secret is set and strong"),
        "security.not_private": (
            "{path} 的权限为 {mode}：其他用户可以访问，应为仅属主（0700/0600）",
            "{path} has mode {mode}: other users can reach it; make it owner-only (0700/0600)",
        ),
        "security.modes_ok": (
            "数据与密钥目录仅属主可访问",
            "The data and secret folders are owner-only",
        ),
        "security.no_public_url": (
            "服务监听 {host} 但未设置 YUNTONG_PUBLIC_URL：无法确认是否通过 HTTPS 提供",
            "The server listens on {host} without YUNTONG_PUBLIC_URL: HTTPS cannot be confirmed",
        ),
        "security.cookies_local": (
            "仅在本机提供服务：Cookie 无需 HTTPS",
            "Served on loopback only: cookies need no HTTPS",
        ),
        "security.cookie_not_secure": (
            "通过 HTTPS 提供服务，但 Cookie 未标记 Secure：请设置 YUNTONG_COOKIE_SECURE=true",
            "Served over HTTPS but cookies are not marked Secure: set YUNTONG_COOKIE_SECURE=true",
        ),
        "security.no_https": (
            "{url} 不是 HTTPS：登录 Cookie 和密码以明文传输",
            "{url} is not HTTPS: session cookies and passwords travel in clear",
        ),
        "security.cookies_ok": ("Cookie 通过 HTTPS 安全传输", "Cookies are sent over HTTPS only"),
        "security.turn_loopback": (
            "TURN 允许中继到本机地址 {range}：中继服务器可被用来访问本机服务",
            "TURN may relay to loopback ({range}): the relay reaches this machine's services",
        ),
        "security.turn_wide": (
            "TURN 允许中继的范围 {range} 过大",
            "The TURN relay range {range} is very wide",
        ),
        "security.turn_private": (
            "TURN 允许中继到内网 {range}：请确认这是有意的",
            "TURN may relay into the private range {range}: make sure it is meant",
        ),
        "security.turn_tcp": (
            "TURN 开启了 TCP 中继（RFC 6062）",
            "TURN TCP relays (RFC 6062) are on",
        ),
        "security.turn_ok": (
            "TURN 只中继到公网地址",
            "TURN relays to public addresses only",
        ),
        "security.web_beyond_loopback": (
            "Web 服务监听 {host}（不只是本机）：若在反向代理之后，请改为 127.0.0.1",
            "The web server listens on {host}, beyond loopback: behind a proxy, use 127.0.0.1",
        ),
        "security.redis_open": (
            "Redis（{host}）经网络访问但没有密码",
            "Redis ({host}) is reached over the network without a password",
        ),
        "security.database_no_tls": (
            "数据库（{host}）经网络访问但未要求 TLS（ssl=require）",
            "The database ({host}) is reached over the network without TLS (ssl=require)",
        ),
        "security.listening_ok": (
            "服务只监听本机，Redis 与数据库连接受保护",
            "Servers listen on loopback; Redis and the database are protected",
        ),
        "security.pip_audit_missing": (
            "未安装 pip-audit：未检查依赖包的已知漏洞",
            "pip-audit is not installed: packages were not checked for known vulnerabilities",
        ),
        "security.pip_audit_offline": (
            "pip-audit 无法访问漏洞数据库（需要联网）：未检查依赖包",
            "pip-audit could not reach its vulnerability database (it needs the network): "
            "packages were not checked",
        ),
        "security.vulnerable": (
            "{package} 有已知漏洞：{ids}",
            "{package} has known vulnerabilities: {ids}",
        ),
        "security.packages_ok": (
            "{count} 个依赖包没有已知漏洞",
            "{count} packages, none with a known vulnerability",
        ),
        "security.audit_ok": (
            "审计日志链完整（{count} 条记录）",
            "The audit trail's chain is intact ({count} events)",
        ),
        "security.audit_altered": (
            "审计记录 {event} 已被改动（链在第 {count} 条之后断开）",
            "Audit event {event} was altered (the chain breaks after {count} events)",
        ),
        "security.audit_missing": (
            "审计记录在第 {count} 条之后缺失（下一条为 {event}）",
            "Audit events are missing after the first {count} (the next is {event})",
        ),
        "security.audit_truncated": (
            "审计日志末尾的记录被删除（现存 {count} 条）",
            "Audit events were cut off the end of the trail ({count} remain)",
        ),
    },
)
