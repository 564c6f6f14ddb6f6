"""Findings, the message catalogue and the domain error.

Every problem found in a ledger becomes one :class:`Finding`; validation
collects them and never raises per cell. The catalogue below is data: the
site's 填表说明 and 数据质量 pages and a docs test are generated from it, so a
code cannot exist without its Chinese explanation.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


class FengqiaoError(Exception):
    """A problem the user can fix (bad input, bad config); the CLI prints it
    in Chinese without a traceback and exits 2."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + self.hint


class SourceError(FengqiaoError):
    """The source could not be read at all (missing, corrupt, encrypted, no
    access). The last good snapshot is left as it was."""


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    level: Literal["tab", "field", "row", "cross"]
    title: str
    template: str
    hint: str


_CATALOGUE = [
    # tab level
    Code("missing-tab", "error", "tab", "缺少工作表",
         "找不到“{sheet}”工作表。",
         "请确认工作表没有被改名或删除；可以用 fengqiao template 生成的模板对照表名。"),
    Code("missing-optional-tab", "warning", "tab", "缺少可选工作表",
         "没有“{sheet}”工作表，依赖它的指标将显示为“—”。",
         "如果本镇不单独记这张表，可以忽略这条提醒。"),
    Code("ambiguous-tab", "error", "tab", "有多张工作表像同一张表",
         "这些工作表都可能是“{sheet}”：{detail}。无法判断哪一张是在用的，这张表暂不使用。",
         "请把不用的那几张删除或改成别的名字；或者在 fengqiao.yml 里写明要用哪一张："
         "加一行“tabs:”，下一行缩进两格写“{column}: 要用的工作表名”。"),
    Code("tab-mapping-unknown", "error", "tab", "指定的工作表不存在",
         "配置文件的 tabs 指定“{column}”用工作表“{sheet}”，但台账里没有这张工作表。",
         "台账里现有的工作表：{detail}。请把 fengqiao.yml 里 tabs 下的名字改成其中一个"
         "（要和工作表名完全一致）。"),
    Code("hidden-tab-used", "warning", "tab", "用了隐藏的工作表",
         "“{sheet}”是隐藏的工作表，因为找不到别的“{column}”，统计用了它。",
         "如果它就是在用的台账，请在 Excel 里取消隐藏，免得被当成旧表删掉；"
         "如果它是旧表，请把在用的那张改名为“{column}”。"),
    Code("hidden-tab-ignored", "warning", "tab", "隐藏的工作表没有使用",
         "隐藏的工作表“{sheet}”也像“{column}”，但统计用的是显示着的“{detail}”。",
         "如果隐藏的这张才是要用的，请在 fengqiao.yml 的 tabs 里指定它；"
         "如果它是不再使用的旧表，可以删除。"),
    Code("header-not-found", "error", "tab", "找不到表头",
         "“{sheet}”的前 {detail} 行里找不到表头行。",
         "表头行要包含“{column}”等列名；标题行可以保留在表头上方。"),
    Code("csv-header-not-found", "error", "tab", "CSV 文件里找不到表头",
         "“{sheet}”的前 {detail} 行里找不到表头行（这个 CSV 文件是按{value}读取的）。",
         "表头行要包含“{column}”等列名；如果分列或文字看起来不对，请用 Excel 或 WPS "
         "打开后另存为“CSV UTF-8（逗号分隔）”，再读取新文件。"),
    Code("missing-column", "error", "tab", "缺少必填列",
         "“{sheet}”缺少“{column}”列。",
         "请在表头行加上这一列（列名要与模板一致，或使用填表说明里列出的别名）。"),
    Code("missing-optional-column", "warning", "tab", "缺少可选列",
         "“{sheet}”没有“{column}”列，相关统计将显示为“—”。",
         "如需统计，请在表头行加上这一列。"),
    Code("duplicate-column", "warning", "tab", "重复的列",
         "{cell} 的列名“{column}”和另一列都表示“{detail}”，这一列被忽略。",
         "请删除或改名重复的列。"),
    # field level
    Code("required-missing", "error", "field", "必填项为空",
         "{cell}（{column}）没有填写。",
         "这一项必须填写。"),
    Code("bad-date", "error", "field", "日期无法识别",
         "{cell}（{column}）的“{value}”不是有效日期。",
         "请写成 2024-03-05、2024/3/5 或 2024年3月5日 这样的日期。"),
    Code("date-out-of-range", "error", "field", "日期超出合理范围",
         "{cell}（{column}）的日期 {value} 不在 {detail} 之间。",
         "请检查年份是否输错。"),
    Code("bad-integer", "error", "field", "不是整数",
         "{cell}（{column}）的“{value}”不是整数。",
         "请只填写数字，例如 3，不要带单位或文字。"),
    Code("bad-number", "error", "field", "不是数字",
         "{cell}（{column}）的“{value}”不是数字。",
         "请只填写数字，不要带单位或文字。"),
    Code("bad-boolean", "error", "field", "应填“是”或“否”",
         "{cell}（{column}）的“{value}”无法判断是或否。",
         "请从下拉框里选“是”或“否”。"),
    Code("below-minimum", "error", "field", "数值太小",
         "{cell}（{column}）的 {value} 小于最小值 {detail}。",
         "请检查数字是否填错。"),
    Code("above-maximum", "error", "field", "数值太大",
         "{cell}（{column}）的 {value} 大于最大值 {detail}。",
         "请检查数字是否填错。"),
    Code("not-in-enum", "error", "field", "不在可选范围内",
         "{cell}（{column}）的“{value}”不是可选的值。",
         "可选的值有：{detail}。请从下拉框里选择。"),
    Code("duplicate-id", "error", "field", "编号重复",
         "{cell}（{column}）的“{value}”与第 {detail} 行重复，这一行不计入统计。",
         "每条记录的编号必须唯一，请给这一行换一个新编号。"),
    Code("formula-error", "error", "field", "公式出错",
         "{cell}（{column}）的公式结果是错误值 {value}。",
         "请修改公式或直接填写数值。"),
    Code("formula-no-value", "error", "field", "公式没有保存结果",
         "{cell}（{column}）是公式，但文件里没有保存它的计算结果，程序读不到值。",
         "这种文件多半是由程序生成的。请用 Excel 或 WPS 打开台账，保存一次（公式会算出结果），"
         "再重新校验；也可以把这一格直接改成数值。"),
    Code("text-too-long", "warning", "field", "内容过长",
         "{cell}（{column}）有 {detail} 个字，超过了合理长度。",
         "请精简内容，详细材料另存档案。"),
    Code("control-characters", "warning", "field", "含有不可见字符",
         "{cell}（{column}）含有不可见的控制字符，已忽略这些字符。",
         "请重新输入这一格的内容。"),
    # row level
    Code("closed-without-date", "error", "row", "办结缺少办结日期",
         "{cell}：状态为“{value}”，但没有填写办结日期，这一条按未办结统计。",
         "请补填办结日期；如果还没有办结，请把状态改回“{detail}”。"),
    Code("date-without-closed", "error", "row", "未办结却有办结日期",
         "{cell}：填了办结日期，但状态是“{value}”，这一条按未办结统计。",
         "如果已经办结，请把状态改为{detail}之一；否则请删除办结日期。"),
    Code("closed-before-received", "error", "row", "办结日期早于受理日期",
         "{cell}：办结日期 {value} 早于受理日期 {detail}，这起纠纷按未办结统计。",
         "请核对两个日期。"),
    Code("closed-before-raised", "error", "row", "办结日期早于提出日期",
         "{cell}：办结日期 {value} 早于需求的提出日期 {detail}，这项需求按未办结统计。",
         "请核对两个日期。"),
    Code("followup-before-closed", "error", "row", "回访日期早于办结日期",
         "{cell}：回访日期 {value} 早于办结日期 {detail}，这次回访不计入统计。",
         "回访应在办结之后，请核对日期。"),
    Code("left-before-arrived", "error", "row", "离岗日期早于到岗日期",
         "{cell}：离岗日期 {value} 早于到岗日期 {detail}，这段任职按仍在岗统计。",
         "请核对两个日期：离岗日期是最后在岗的那一天，不能早于到岗日期；仍在岗的不填离岗日期。"),
    Code("overlapping-posts", "error", "row", "同一领导的任职时间重叠",
         "{cell}：领导“{value}”在第 {detail} 行还有一段任职，两段的在岗时间重叠。",
         "同一段任职只留一行；换岗的每段一行，前一段要填离岗日期，并且早于后一段的到岗日期。"),
    Code("first-try-missing", "warning", "row", "办结未填首次调解结果",
         "{cell}：纠纷已办结，但没有填写“首次调解成功”。",
         "请填写“是”或“否”。"),
    Code("feedback-before-received", "error", "row", "反馈日期早于受理日期",
         "{cell}：反馈日期 {value} 早于受理日期 {detail}，这次反馈不计入统计。",
         "反馈是把办理结果告诉当事人，只能在受理之后，请核对两个日期。"),
    Code("assigned-before-received", "error", "row", "交办日期早于受理日期",
         "{cell}：交办日期 {value} 早于受理日期 {detail}，交办用时不计入统计。",
         "纠纷要先受理、后交办，请核对两个日期。"),
    Code("assigned-after-closed", "error", "row", "交办日期晚于办结日期",
         "{cell}：交办日期 {value} 晚于办结日期 {detail}，交办用时不计入统计。",
         "纠纷要先交办、后办结，请核对两个日期。"),
    # cross-tab
    Code("unknown-grid", "error", "cross", "网格编号不存在",
         "{cell}（{column}）的“{value}”在“网格”表里找不到，这一行按“无网格”统计。",
         "请核对网格编号，或先在“网格”表里补上这个网格。"),
    Code("unknown-repeat", "error", "cross", "重复事项编号不存在",
         "{cell}（{column}）的“{value}”在纠纷台账里找不到。",
         "请填写被重复反映的那起纠纷的编号。"),
    Code("self-repeat", "error", "cross", "重复事项填了本行编号",
         "{cell}（{column}）填的“{value}”就是这一行自己的编号。",
         "重复事项应填以前那起纠纷的编号；不是重复反映的请留空。"),
    Code("unknown-dispute", "error", "cross", "关联纠纷编号不存在",
         "{cell}（{column}）的“{value}”在纠纷台账里找不到。",
         "请核对编号，或先在纠纷台账里登记这起纠纷。"),
    Code("unknown-person", "error", "cross", "人员编号不存在",
         "{cell}（{column}）的人员编号在“重点人员”表里找不到。",
         "请核对人员编号。"),
    Code("unknown-unit", "warning", "cross", "责任单位不在责任清单中",
         "{cell}（{column}）的“{value}”不在责任清单里。",
         "请使用责任清单里的单位名称，或在责任清单里补上这个单位。"),
    # the supervision loop (督办记录, 流转记录): a record checked against its case
    Code("supervision-unknown-dispute", "error", "cross", "督办的纠纷编号不存在",
         "{cell}（{column}）的“{value}”在纠纷台账里找不到，这次督办不会算到任何一起纠纷上。",
         "请核对编号（要和纠纷台账的“编号”一字不差），或先在纠纷台账里登记这起纠纷。"),
    Code("transfer-unknown-dispute", "error", "cross", "流转的纠纷编号不存在",
         "{cell}（{column}）的“{value}”在纠纷台账里找不到，这次流转不会算到任何一起纠纷上。",
         "请核对编号（要和纠纷台账的“编号”一字不差），或先在纠纷台账里登记这起纠纷。"),
    Code("supervised-before-received", "error", "cross", "督办日期早于受理日期",
         "{cell}：督办日期 {value} 早于这起纠纷的受理日期 {detail}，这条督办记录不计入统计。",
         "督办只能在受理之后，请核对督办日期，或看看纠纷编号是不是填成了别的纠纷。"),
    Code("transfer-before-received", "error", "cross", "流转日期早于受理日期",
         "{cell}：流转日期 {value} 早于这起纠纷的受理日期 {detail}，这条流转记录不计入统计。",
         "流转只能在受理之后，请核对流转日期，或看看纠纷编号是不是填成了别的纠纷。"),
    Code("transfer-same-level", "error", "cross", "流转后层级没有变",
         "{cell}：流向是“{detail}”，但转至层级“{value}”就是这起纠纷当时所在的层级，这一格按未填统计。",
         "上传要转到更高一级，下传要转到更低一级；层级不变、只是交给对口部门的，流向请选“专传”。"
         "纠纷当时的层级按纠纷台账的“初始层级”（没填就按“调处层级”）和这之前的流转记录推算，"
         "从别的层级开始办的纠纷请填好“初始层级”。"),
    Code("transfer-wrong-direction", "error", "cross", "流转方向和层级对不上",
         "{cell}：这起纠纷当时在“{detail}”，转至层级“{value}”和流向对不上"
         "（上传要往高一级转，下传要往低一级转），这一格按未填统计。",
         "请核对流向和转至层级，改正填错的那一格。纠纷当时的层级按纠纷台账的“初始层级”"
         "（没填就按“调处层级”）和这之前的流转记录推算。"),
]

CATALOGUE: dict[str, Code] = {c.code: c for c in _CATALOGUE}


_PLAIN_SHEET = re.compile(r"^[\w\u4e00-\u9fff]+$")


def column_letter(index: int) -> str:
    """0-based column index → spreadsheet letters (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def a1(sheet: str, row: int | None = None, col: int | None = None) -> str:
    """A cell reference as the user types it: ``纠纷台账!F12``. Sheet names
    with spaces or punctuation are quoted the way Excel quotes them."""
    name = sheet if _PLAIN_SHEET.match(sheet) else "'" + sheet.replace("'", "''") + "'"
    if row is None:
        return name
    if col is None:
        return f"{name}!{row}:{row}"
    return f"{name}!{column_letter(col)}{row}"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    sheet: str
    row: int | None
    column: str | None
    cell: str
    message: str
    tab: str = ""
    field: str | None = None
    value: str | None = None
    #: how to fix it: the catalogue's hint, also the end of ``message``
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> tuple[str, str, str]:
        """Compact form used by tests: (sheet, cell without sheet, code)."""
        return (self.sheet, self.cell.split("!")[-1], self.code)


def make_finding(
    code: str,
    *,
    sheet: str,
    tab: str = "",
    row: int | None = None,
    col: int | None = None,
    column: str | None = None,
    field: str | None = None,
    value: Any = None,
    sensitive: bool = False,
    detail: Any = "",
) -> Finding:
    """Build a finding from the catalogue. ``value`` is dropped for sensitive
    fields so that personal data never leaves the ledger through a report."""
    entry = CATALOGUE[code]
    shown = None if sensitive or value is None else str(value)
    cell = a1(sheet, row, col)
    text = entry.template.format(
        sheet=sheet,
        cell=cell,
        column=column or "",
        value=shown if shown is not None else "（内容已隐去）",
        detail=detail,
    )
    hint = entry.hint.format(column=column or "", detail=detail)
    return Finding(
        code=code,
        severity=entry.severity,
        sheet=sheet,
        row=row,
        column=column,
        cell=cell,
        message=f"{text}{hint}",
        tab=tab,
        field=field,
        value=shown,
        fix=hint,
    )
