"""Web strings (zh-CN, en): the recent backups on the operator console (docs/backup.md)."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        "ui.backups.title": ("备份", "Backups"),
        "ui.backups.hint": (
            "备份由 yuntong backup 命令和每日的自动备份生成；恢复只能在命令行进行。",
            "Backups are made by `yuntong backup` and the daily backup; restores are done from "
            "the command line.",
        ),
        "ui.backups.empty": ("还没有备份", "No backups yet"),
        "ui.backups.name": ("备份", "Backup"),
        "ui.backups.created": ("时间", "Taken"),
        "ui.backups.database": ("数据库", "Database"),
        "ui.backups.rows": ("记录数", "Rows"),
        "ui.backups.files": ("文件数", "Files"),
        "ui.backups.size": ("大小", "Size"),
        "ui.backups.verified": ("校验", "Verification"),
        "ui.backups.verified_ok": ("已校验 {at}", "Verified {at}"),
        "ui.backups.verify_failed": ("校验失败：{problem}", "Verification failed: {problem}"),
        "ui.backups.not_verified": ("未校验", "Not verified"),
    },
)
