"""Web strings (zh-CN, en): outside-call prices (/tariffs) and the staff tariffs and margins
page (/operator/tariffs)."""

from __future__ import annotations

from yuntong.core.i18n import strings

STRINGS = strings(
    "ui",
    {
        "ui.tariffs.nav": ("外线资费", "Outside-call prices"),
        "ui.tariffs.title": ("外线通话资费", "Prices of outside calls"),
        "ui.tariffs.explain": (
            "拨打公用电话网（固话、手机、国际）的每分钟价格。每个计费单位开始即整单位计费；"
            "与您号码同一区号的固话按本地通话计费。",
            "Per-minute prices of calls to the public telephone network (fixed lines, mobiles, "
            "abroad). Each billing increment started is billed whole; fixed lines in your own "
            "number's area code are local calls.",
        ),
        "ui.tariffs.quote": ("查询资费", "What would a call cost?"),
        "ui.tariffs.quote_to": ("号码", "Number"),
        "ui.tariffs.quote_hint": (
            "国内号码直接输入，国际号码以 + 或 00 开头",
            "National numbers as dialled; international with + or 00",
        ),
        "ui.tariffs.quote_submit": ("查询", "Look up"),
        "ui.tariffs.quote_result": (
            "{name}（{category}）：{price}/分钟，每 {increment} 秒计费",
            "{name} ({category}): {price} a minute, billed per {increment} s",
        ),
        "ui.tariffs.list": ("价目表", "Price list"),
        "ui.tariffs.since": ("自 {time} 起执行", "In force since {time}"),
        "ui.tariffs.next": ("新资费将于 {time} 起执行", "New prices apply from {time}"),
        "ui.tariffs.empty": ("暂未公布外线资费", "No prices for outside calls yet"),
        "ui.tariffs.col.prefix": ("号码前缀", "Prefix"),
        "ui.tariffs.col.destination": ("目的地", "Destination"),
        "ui.tariffs.col.category": ("类别", "Category"),
        "ui.tariffs.col.price": ("每分钟", "Per minute"),
        "ui.tariffs.col.increment": ("计费单位", "Increment"),
        "ui.tariffs.seconds": ("{n} 秒", "{n} s"),
        "ui.tariffs.category.local": ("本地通话", "Local"),
        "ui.tariffs.category.domestic": ("国内长途", "Domestic long distance"),
        "ui.tariffs.category.mobile": ("移动电话", "Mobile"),
        "ui.tariffs.category.international": ("国际长途", "International"),
        "ui.tariffs.category.premium": ("特服/增值号码", "Premium"),
        "ui.optariffs.nav": ("外线资费与毛利", "Tariffs and margins"),
        "ui.optariffs.title": ("外线资费与毛利", "Outside-call tariffs and margins"),
        "ui.optariffs.margins": ("毛利报表", "Margin report"),
        "ui.optariffs.from": ("开始日期", "From"),
        "ui.optariffs.to": ("结束日期", "To"),
        "ui.optariffs.show": ("查看", "Show"),
        "ui.optariffs.csv": ("导出 CSV", "Export CSV"),
        "ui.optariffs.col.trunk": ("中继", "Trunk"),
        "ui.optariffs.col.calls": ("通话数", "Calls"),
        "ui.optariffs.col.minutes": ("计费分钟", "Minutes"),
        "ui.optariffs.col.revenue": ("收入", "Revenue"),
        "ui.optariffs.col.cost": ("成本", "Cost"),
        "ui.optariffs.col.margin": ("毛利", "Margin"),
        "ui.optariffs.col.uncosted": ("无成本", "No cost"),
        "ui.optariffs.total": ("合计", "Total"),
        "ui.optariffs.no_calls": ("该时段没有外线通话", "No outside calls in this period"),
        "ui.optariffs.import_prices": ("导入价目表", "Import the price table"),
        "ui.optariffs.import_costs": ("导入中继成本表", "Import a trunk's costs"),
        "ui.optariffs.file": ("CSV 文件", "CSV file"),
        "ui.optariffs.trunk": ("中继名称", "Trunk"),
        "ui.optariffs.effective_from": ("生效时间（留空为立即）", "In force from (empty: now)"),
        "ui.optariffs.note": ("备注", "Note"),
        "ui.optariffs.import_submit": ("导入", "Import"),
        "ui.optariffs.imported": ("已导入 {rows} 行", "{rows} rows imported"),
        "ui.optariffs.row_error": ("第 {line} 行：{message}", "Line {line}: {message}"),
        "ui.optariffs.versions": ("已导入的版本", "Versions imported"),
        "ui.optariffs.col.kind": ("类型", "Kind"),
        "ui.optariffs.col.effective": ("生效时间", "In force from"),
        "ui.optariffs.col.rows": ("行数", "Rows"),
        "ui.optariffs.kind.prices": ("价目表", "Prices"),
        "ui.optariffs.kind.costs": ("成本表", "Costs"),
        "ui.optariffs.in_force": ("执行中", "In force"),
        "ui.optariffs.no_versions": ("尚未导入任何资费表", "No table imported yet"),
    },
)
