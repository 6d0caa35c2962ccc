"""Tariffs' words (zh-CN, en): the categories and what is wrong with a row of an import."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "tariffs",
    {
        "tariffs.category.local": ("本地通话", "Local"),
        "tariffs.category.domestic": ("国内长途", "Domestic long distance"),
        "tariffs.category.mobile": ("移动电话", "Mobile"),
        "tariffs.category.international": ("国际长途", "International"),
        "tariffs.category.premium": ("特服/增值号码", "Premium"),
        "tariffs.row.header": (
            "第一行应为表头：{column}",
            "The first line must be the header: {column}",
        ),
        "tariffs.row.columns": ("列数不对", "Wrong number of columns"),
        "tariffs.row.unreadable": (
            "无法读取：含有空字符或过长的字段",
            "Unreadable: a NUL character or an overlong field",
        ),
        "tariffs.row.empty": ("文件中没有数据行", "The file has no rows"),
        "tariffs.row.prefix": (
            "号码前缀应为 1 至 16 位数字（E.164，不带 +，不以 0 开头）",
            "The prefix must be 1 to 16 digits (E.164 without '+', not starting with 0)",
        ),
        "tariffs.row.duplicate": (
            "该前缀在文件中重复出现",
            "This prefix appears twice in the file",
        ),
        "tariffs.row.category": (
            "类别应为 local、domestic、mobile、international 或 premium",
            "The category must be local, domestic, mobile, international or premium",
        ),
        "tariffs.row.category_prefix": (
            "国际前缀不能以 86 开头，国内类别的前缀必须以 86 开头",
            "International prefixes must not start with 86; the other categories' must",
        ),
        "tariffs.row.name": (
            "{column} 必填，最多 80 个字符",
            "{column} is required, at most 80 characters",
        ),
        "tariffs.row.amount": (
            "{column} 应为 0 至 1000000 的整数（分）",
            "{column} must be a whole number of fen, 0 to 1000000",
        ),
        "tariffs.row.increment": (
            "计费单位 increment_s 应为 1 至 3600 秒的整数（留空为 60）",
            "increment_s must be 1 to 3600 whole seconds (empty: 60)",
        ),
        "tariffs.row.trunk": (
            "该行的中继与导入的中继不一致",
            "This row names another trunk than the one imported",
        ),
    },
)
