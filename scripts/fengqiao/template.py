"""The blank workbook staff start from, and the fill-in guide behind it.

Both come from the schema and the config alone: a new allowed value, header
alias or deadline reaches the dropdowns, the header comments, the 填表说明 tab
and the site's guide page at once, because they all read :func:`guide_rows`
and :class:`~fengqiao.config.Config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Config, load_config
from .errors import column_letter
from .publish.files import save_workbook, workbook_bytes
from .schema import FieldSpec, Schema, TabSpec, load_schema
from .townschema import schema_for

GUIDE_SHEET = "填表说明"
OPTIONS_SHEET = "选项"
#: rows prepared (date format, validation) below the header of every tab
TEMPLATE_ROWS = 2000
#: a dropdown list longer than this, or whose joined text is longer than
#: INLINE_MAX_CHARS, is kept on the hidden 选项 sheet (Excel caps inline lists at 255 chars)
INLINE_MAX_ITEMS = 8
INLINE_MAX_CHARS = 60

TYPE_NAMES = {"string": "文本", "integer": "整数", "number": "数字", "date": "日期",
              "boolean": "是否"}
BOOLEAN_CHOICES = ("是", "否")
DATE_FORMATS = "2024-03-05、2024/3/5、2024.3.5、2024年3月5日、20240305"

_STAR_MEANING = {
    1: "简单纠纷，由村（社区）或对口部门就地化解",
    2: "复杂纠纷，由镇综治中心牵头、相关部门联合调处",
    3: "涉法涉诉或有激化风险的纠纷，由纪检、公安、自然资源等部门依法处理",
}
_STAR_NAMES = {1: "一星（★）", 2: "二星（★★）", 3: "三星（★★★）"}


def choices(spec: FieldSpec) -> tuple[str, ...]:
    """The values a dropdown offers: the enum, or 是/否 for a yes/no field."""
    if spec.enum is not None:
        return tuple(str(v) for v in spec.enum)
    if spec.type == "boolean":
        return BOOLEAN_CHOICES
    return ()


def guide_rows(schema: Schema | None = None) -> list[dict[str, Any]]:
    """One row per tab and field, in workbook order: what the 填表说明 tab and
    the site's guide page both print, so they cannot disagree."""
    schema = schema or load_schema()
    rows: list[dict[str, Any]] = []
    for tab in schema:
        for f in tab.fields:
            rows.append({
                "tab": tab.name,
                "tab_title": tab.title,
                "tab_required": tab.required,
                "tab_sensitive": tab.sensitive,
                "id": f.name,
                "title": f.title,
                "type": TYPE_NAMES[f.type],
                "required": f.required,
                "unique": f.unique,
                "allowed": list(choices(f)),
                "value_aliases": {str(k): str(v) for k, v in f.enum_aliases.items()},
                "minimum": f.minimum,
                "maximum": f.maximum,
                "aliases": list(f.aliases),
                "sensitive": tab.is_sensitive(f.name),
                "redact": f.redact,
                "description": f.description,
            })
    return rows


def deadline_rows(config: Config) -> list[dict[str, Any]]:
    """Each star's meaning and deadline, the deadline read from the config."""
    unit = "个工作日" if config.deadlines.day_count == "working" else "天（自然日）"
    return [
        {"star": star, "name": _STAR_NAMES[star], "meaning": _STAR_MEANING[star],
         "days": config.deadlines.for_star(star),
         "deadline": f"{config.deadlines.for_star(star)} {unit}内办结"}
        for star in (1, 2, 3)
    ]


def _comment_text(row: dict[str, Any]) -> str:
    parts = [row["description"], "必填。" if row["required"] else "可以不填。"]
    if row["allowed"]:
        parts.append("可选值：" + "、".join(row["allowed"]) + "。")
    if row["minimum"] is not None:
        parts.append(f"最小为 {row['minimum']:g}。")
    if row["type"] == "日期":
        parts.append("填日期，例如 2024-03-05。")
    if row["sensitive"]:
        parts.append("敏感信息：只留在台账里，不会公开。")
    elif row["redact"]:
        parts.append("公开前会自动去掉手机号和身份证号。")
    return "\n".join(p for p in parts if p)


def _rules(schema: Schema, config: Config) -> list[tuple[str, str]]:
    """(heading or blank, text) lines of the general rules."""
    required = "、".join(t.title for t in schema if t.required)
    optional = "、".join(t.title for t in schema if not t.required)
    sensitive = []
    for tab in schema:
        if tab.sensitive:
            sensitive.append(f"“{tab.title}”整张表")
        else:
            cols = [f.title for f in tab.fields if f.sensitive]
            if cols:
                sensitive.append(f"“{tab.title}”的" + "、".join(cols))
    redacted = [f"“{tab.title}”的{f.title}" for tab in schema for f in tab.fields if f.redact]
    closed = "、".join(f"“{v}”" for v in schema["disputes"].field("status").closed_values)
    return [
        ("一、基本规则", ""),
        ("", "1. 每条记录只占一行，从表头下一行开始连续往下填；不要合并单元格，不要插入小计行。"),
        ("", "2. 第一行表头不要改名；列的前后顺序可以调整，多出来的列不会影响统计。"),
        ("", f"3. 必须填写的工作表：{required}。其余工作表可选：{optional}。"
             "没有的表可以删掉，依赖它的指标会显示为“—”，不会当成 0。"),
        ("", f"4. 日期可以写成 {DATE_FORMATS}，最好直接输入日期。"),
        ("", "5. 带下拉框的列请从下拉框里选；“是否”类的列填“是”或“否”。"),
        ("", "6. 编号一经登记不要再改；重复反映的纠纷在“重复事项”里填原来那起纠纷的编号。"),
        ("", f"7. 状态为{closed}的纠纷算办结，必须填写办结日期；回访日期不能早于办结日期。"),
        ("二、敏感信息", ""),
        ("", "以下内容只留在台账里，不会出现在任何公开的页面、报表或错误提示中："
             + "；".join(sensitive) + "。"),
        ("", "以下内容公开前会自动去掉手机号和身份证号，请不要写群众姓名："
             + "、".join(redacted) + "。"),
    ]


def _write_guide(ws: Any, schema: Schema, config: Config) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    ws.append([f"{config.town}矛盾纠纷调处化解台账 填表说明"])
    ws.cell(row=1, column=1).font = Font(bold=True, size=16)
    ws.append([])
    for heading, text in _rules(schema, config):
        ws.append([heading or text])
        cell = ws.cell(row=ws.max_row, column=1)
        cell.font = bold if heading else Font()
    ws.append([])
    ws.append(["三、星级与办结期限"])
    ws.cell(row=ws.max_row, column=1).font = bold
    ws.append(["星级", "含义", "办结期限"])
    for c in range(1, 4):
        ws.cell(row=ws.max_row, column=c).font = bold
        ws.cell(row=ws.max_row, column=c).fill = head_fill
    for d in deadline_rows(config):
        ws.append([d["name"], d["meaning"], d["deadline"]])
    ws.append([])
    ws.append(["四、各工作表"])
    ws.cell(row=ws.max_row, column=1).font = bold
    ws.append(["工作表", "是否必须", "敏感", "说明"])
    for c in range(1, 5):
        ws.cell(row=ws.max_row, column=c).font = bold
        ws.cell(row=ws.max_row, column=c).fill = head_fill
    for tab in schema:
        ws.append([tab.title, "必须" if tab.required else "可选",
                   "整张表敏感" if tab.sensitive else "", tab.description])
    ws.append([])
    ws.append(["五、各列说明"])
    ws.cell(row=ws.max_row, column=1).font = bold
    labels = ["工作表", "列名", "类型", "必填", "可选值", "也认的列名", "敏感", "说明"]
    ws.append(labels)
    for c in range(1, len(labels) + 1):
        ws.cell(row=ws.max_row, column=c).font = bold
        ws.cell(row=ws.max_row, column=c).fill = head_fill
    for row in guide_rows(schema):
        ws.append([
            row["tab_title"], row["title"], row["type"], "是" if row["required"] else "",
            "、".join(row["allowed"]), "、".join(row["aliases"]),
            "敏感" if row["sensitive"] else ("公开前脱敏" if row["redact"] else ""),
            row["description"],
        ])
    for letter, width in zip("ABCDEFGH", (16, 16, 10, 8, 30, 30, 12, 60), strict=True):
        ws.column_dimensions[letter].width = width
    for row_cells in ws.iter_rows(min_row=3):
        for cell in row_cells:
            cell.alignment = wrap


class _Options:
    """The hidden 选项 sheet: one column per long list, header = tab.field."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.used = 0

    def formula(self, values: tuple[str, ...], key: str) -> str:
        """An inline list, or a range on the 选项 sheet for a long one."""
        joined = ",".join(values)
        if len(values) <= INLINE_MAX_ITEMS and len(joined) <= INLINE_MAX_CHARS:
            return f'"{joined}"'
        self.used += 1
        letter = column_letter(self.used - 1)
        self.ws.cell(row=1, column=self.used, value=key)
        for i, v in enumerate(values, start=2):
            self.ws.cell(row=i, column=self.used, value=v)
        self.ws.column_dimensions[letter].width = 20
        return f"{OPTIONS_SHEET}!${letter}$2:${letter}${len(values) + 1}"


def _write_tab(ws: Any, tab: TabSpec, rows: list[dict[str, Any]], options: _Options) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    sensitive_fill = PatternFill("solid", fgColor="FCE4D6")
    last = TEMPLATE_ROWS + 1
    ws.append([f.title for f in tab.fields])
    for c, (f, row) in enumerate(zip(tab.fields, rows, strict=True)):
        letter = column_letter(c)
        cell = ws.cell(row=1, column=c + 1)
        cell.font = bold
        cell.fill = sensitive_fill if row["sensitive"] else fill
        cell.alignment = Alignment(horizontal="center")
        comment = Comment(_comment_text(row), "fengqiao", height=160, width=260)
        cell.comment = comment
        ws.column_dimensions[letter].width = 26 if f.type == "string" and not f.enum else max(
            len(f.title) * 2 + 6, 14)
        area = f"{letter}2:{letter}{last}"
        values = choices(f)
        dv: Any = None
        if values:
            dv = DataValidation(type="list", formula1=options.formula(
                values, f"{tab.title}.{f.title}"), allow_blank=True)
            dv.error = f"“{f.title}”请从下拉框里选择：{'、'.join(values)}。"
        elif f.type == "integer":
            low = int(f.minimum) if f.minimum is not None else -999_999_999
            high = int(f.maximum) if f.maximum is not None else 999_999_999
            dv = DataValidation(type="whole", operator="between", formula1=str(low),
                                formula2=str(high), allow_blank=True)
            dv.error = (f"“{f.title}”请填写不小于 {low} 的整数。" if f.minimum is not None
                        else f"“{f.title}”请填写整数。")
        elif f.type == "date":
            dv = DataValidation(type="date", operator="between", formula1="DATE(2000,1,1)",
                                formula2="DATE(2099,12,31)", allow_blank=True)
            dv.error = f"“{f.title}”请填写日期，例如 2024-03-05。"
            dv.errorStyle = "warning"
            for (date_cell,) in ws.iter_rows(min_row=2, max_row=last, min_col=c + 1,
                                             max_col=c + 1):
                date_cell.number_format = "yyyy-mm-dd"
        if dv is not None:
            dv.errorTitle = "填写有误"
            dv.showErrorMessage = True
            dv.add(area)
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"


def template_workbook(*, schema: Schema | None = None, config: Config | None = None) -> Any:
    """A blank openpyxl workbook: 填表说明 first, then one tab per schema tab."""
    from openpyxl import Workbook

    config = config or load_config()
    schema = schema or schema_for(config)  # the dropdowns offer the town's own ranks
    rows = guide_rows(schema)
    wb = Workbook()
    guide = wb.active
    guide.title = GUIDE_SHEET
    _write_guide(guide, schema, config)
    sheets = {tab.name: wb.create_sheet(tab.title) for tab in schema}
    options = _Options(wb.create_sheet(OPTIONS_SHEET))
    for tab in schema:
        _write_tab(sheets[tab.name], tab, [r for r in rows if r["tab"] == tab.name], options)
    if options.used:
        options.ws.sheet_state = "hidden"
    else:
        wb.remove(options.ws)
    return wb


def template_bytes(*, schema: Schema | None = None, config: Config | None = None) -> bytes:
    """The blank template's bytes, byte-stable (the site's download)."""
    return workbook_bytes(template_workbook(schema=schema, config=config))


def write_template(path: Path, *, schema: Schema | None = None,
                   config: Config | None = None) -> None:
    """Write the blank template to ``path`` atomically."""
    save_workbook(template_workbook(schema=schema, config=config), Path(path))
