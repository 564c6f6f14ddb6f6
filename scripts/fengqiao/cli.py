"""The ``fengqiao`` command: thin wrappers over the library.

Library code raises :class:`~fengqiao.errors.FengqiaoError` for anything the
user can fix; this module alone turns those into a Chinese message and an exit
code (0 fine, 1 the ledger has errors, 2 the input or config could not be
used), so no traceback ever reaches township staff.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import clock, resources
from .cli_frame import ChineseGroup, display_width, version_option
from .cli_progress import working
from .config import Config, find_config, load_config
from .errors import FengqiaoError

EXIT_FINDINGS = 1
EXIT_INPUT = 2


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FengqiaoError as exc:
            click.echo(f"错误：{exc}", err=True)
            sys.exit(exc.exit_code)
    return wrapper


def _config(path: str | None) -> Config:
    """The --config file; else the fengqiao.yml of the town folder the
    command runs in (this folder or one above it); else the defaults."""
    if path:
        return load_config(Path(path))
    return load_config(find_config(Path.cwd()))


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="配置文件 fengqiao.yml（不填则用当前文件夹或上级文件夹里的 fengqiao.yml）。",
)


@click.group(cls=ChineseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@version_option()
def cli() -> None:
    """fengqiao：矛盾纠纷调处化解台账的校验、统计与内部网站。"""


# --- schema / template (template.py, export.py) -------------------------------


@cli.command("init")
@click.argument("folder", type=click.Path(file_okay=False), metavar="文件夹")
@click.option("--town", default=None, help="乡镇名称，例如 枫溪镇（不填则用文件夹名）。")
@click.option("--source", default=None,
              help="台账已经在别处时写上它：Excel/WPS 文件、CSV 文件夹、gsheets:表格ID 或 feishu:表格token；"
                   "不填则在文件夹里放一个空白台账 台账.xlsx。")
@click.option("--demo", is_flag=True, help="建立演示文件夹：虚构的枫溪镇台账，数据截至 2024-12-31。")
@_handle_errors
def init_cmd(folder: str, town: str | None, source: str | None, demo: bool) -> None:
    """建立本镇的工作文件夹：设置文件、工作规程页面、空白台账和使用说明。

    之后在这个文件夹里运行的命令都会自动使用它的设置文件 fengqiao.yml。
    """
    from .townfolder import DEMO_TOWN, README_NAME, create_town_folder

    path = Path(folder)
    name = town or (DEMO_TOWN if demo else path.resolve().name)
    made = create_town_folder(path, town=name, source=source, demo=demo)
    click.echo(f"已建立{name}的工作文件夹：{made.folder}")
    for item in made.files:
        click.echo(f"  {item}")
    click.echo(f"下一步：cd {made.folder}，然后运行 fengqiao validate；详见 {README_NAME}。")


@cli.group("pages")
def pages_group() -> None:
    """本镇工作规程页面（site/ 文件夹）。"""


@pages_group.command("refresh")
@click.option("--dry-run", is_flag=True, help="只列出会更新哪些页面，不改动任何文件。")
@config_option
@_handle_errors
def pages_refresh_cmd(dry_run: bool, config_path: str | None) -> None:
    """用 fengqiao 新版自带的页面更新本镇的页面文件夹。

    没有改过的页面换成新版，新版新增的页面加进来；本镇改过的页面保持不动，
    本镇删掉的页面也不会恢复，两者都会列出来。
    """
    from .resources import DEFAULT_PAGES
    from .townpages import refresh_pages

    config = _config(config_path)
    if not config.site.pages:
        click.echo("本镇的网站使用 fengqiao 自带的页面，升级后就是新版，不需要更新。")
        return
    r = refresh_pages(config.resolve(config.site.pages), dry_run=dry_run)
    verb = "将" if dry_run else "已"
    click.echo(f"页面文件夹：{r.folder}")
    for words, pages in ((f"{verb}更新为新版", r.updated), (f"{verb}新增", r.added)):
        for rel in pages:
            click.echo(f"  {words}：{rel}")
    for rel in r.edited:
        click.echo(f"  本镇改过，保持不动：{rel}（新版在 {DEFAULT_PAGES / rel}）")
    for rel in r.deleted:
        click.echo(f"  本镇已删除，不恢复：{rel}")
    if not r.recorded:
        click.echo("  这个文件夹没有记录当初复制的页面，与新版不同的页面都当作本镇改过的页面保留。")
    click.echo(f"{len(r.updated) + len(r.added)} 个页面{verb}更新，{r.current} 个已是新版，"
               f"{len(r.edited)} 个本镇改过。" + ("（试运行，没有改动文件）" if dry_run else ""))


@cli.command("template")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="要生成的空白台账模板，例如 台账模板.xlsx。")
@config_option
@_handle_errors
def template_cmd(out: str, config_path: str | None) -> None:
    """生成空白台账模板：带填表说明、下拉框、批注和日期格式。

    办结期限等内容取自配置文件，和统计口径保持一致。
    """
    from .template import write_template

    config = _config(config_path)
    path = Path(out)
    if path.suffix.lower() != ".xlsx":
        raise FengqiaoError(f"模板文件名应以 .xlsx 结尾，实际是“{path.name}”。")
    try:
        write_template(path, config=config)
    except OSError as exc:
        raise FengqiaoError(f"无法写入模板文件 {path}：{exc.strerror or exc}。",
                            hint="请确认文件没有在 Excel 里打开，并且文件夹可以写入。") from exc
    click.echo(f"已生成台账模板：{path}")


@cli.group("schema")
def schema_group() -> None:
    """表结构相关的命令。"""


@schema_group.command("export")
@click.argument("source", required=False)
@click.option("--out", "out", type=click.Path(file_okay=False), default="build/schema",
              show_default=True, help="输出文件夹。")
@click.option("--by-title", is_flag=True, default=False,
              help="字段名用中文表头（如“受理日期”），可以直接校验从表格另存的 CSV。")
@click.option("--data", "with_data", is_flag=True, default=False,
              help="同时导出台账数据：读取并校验台账 SOURCE（不写则用配置里的 source），"
                   "每张表写一个整理过的 CSV。")
@config_option
@_handle_errors
def schema_export_cmd(source: str | None, out: str, by_title: bool, with_data: bool,
                      config_path: str | None) -> None:
    """把各工作表的结构导出为标准的 Table Schema 和 datapackage.json。

    加 --data（或写上台账 SOURCE）时，同时把台账整理成每张表一个 CSV 放在旁边：日期写成
    2024-03-05，选项用标准写法，只含计入统计的行，不含涉及个人信息的列。
    这时各个表结构描述的就是这些 CSV，用 frictionless 等标准工具可以直接校验。
    """
    from .export import claim_folder, write_schemas
    from .townschema import schema_for

    config = _config(config_path)
    ledger = None
    if with_data or source:
        claim_folder(Path(out))  # a refused folder costs no read
        from .sources import open_source, resolve_spec
        from .validate import validate_workbook

        with working("读取并检查台账"):
            ledger = validate_workbook(open_source(resolve_spec(source, config), config=config),
                                       config=config)
    try:
        written = write_schemas(Path(out), by_title=by_title, ledger=ledger,
                                schema=schema_for(config),
                                title=f"{config.town}矛盾纠纷调处化解台账")
    except OSError as exc:
        raise FengqiaoError(f"无法写入文件夹 {out}：{exc.strerror or exc}。") from exc
    click.echo(f"已导出 {len(written)} 个文件到 {out}：")
    for path in written:
        click.echo(f"  {path.name}")
    if ledger is not None:
        excluded = sum(len(frame) for frame in ledger.excluded.values())
        if excluded:
            click.echo(f"有 {excluded} 行因编号、日期或星级等有误不计入统计，没有导出；"
                       "用 fengqiao validate 可以看到具体的单元格。")
        click.echo("导出了哪些内容、没有导出什么，写在 datapackage.json 的 description 里。")

# --- validate / annotate (validate.py, annotate.py) ----------------------------

_TABLE_LIMIT = 50
_SEVERITY_LABEL = {"error": "错误", "warning": "提醒"}
_FINDING_KEYS = ("sheet", "row", "column", "cell", "code", "severity", "message")


def _echo_findings_table(ledger: Any, source_name: str) -> None:
    from .errors import CATALOGUE

    findings = ledger.findings
    n_err = sum(1 for f in findings if f.severity == "error")
    n_warn = len(findings) - n_err
    if not findings:
        click.echo(f"校验“{source_name}”：没有发现问题。")
    else:
        click.echo(f"校验“{source_name}”：发现 {n_err} 个错误、{n_warn} 个提醒。")
    by_sheet: dict[str, list[Any]] = {}
    for f in findings:
        by_sheet.setdefault(f.sheet, []).append(f)
    for sheet, items in by_sheet.items():
        errs = sum(1 for f in items if f.severity == "error")
        click.echo("")
        click.echo(f"【{sheet}】错误 {errs} 个，提醒 {len(items) - errs} 个")
        counts: dict[str, int] = {}
        for f in items:
            counts[f.code] = counts.get(f.code, 0) + 1
        for code, count in counts.items():
            entry = CATALOGUE[code]
            label = _SEVERITY_LABEL[entry.severity]
            click.echo(f"  {entry.title}（{code}，{label}）：{count} 处")
        for f in items[:_TABLE_LIMIT]:
            click.echo(f"  [{_SEVERITY_LABEL[f.severity]}] {f.message}")
        if len(items) > _TABLE_LIMIT:
            click.echo(f"  ……还有 {len(items) - _TABLE_LIMIT} 条未列出，"
                       f"用 --format json 可以看到全部。")
    for tab, frame in ledger.excluded.items():
        if len(frame):
            sheet = ledger.sheet_names.get(tab, tab)
            click.echo("")
            click.echo(f"“{sheet}”有 {len(frame)} 行因编号、日期或星级有误不计入统计，"
                       f"改正后会自动计入。")


@cli.command("validate")
@click.argument("source", required=False)
@config_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="输出格式：table 为分表的中文清单，json 为完整的机器可读列表。")
@click.option("--annotate", "annotate_out", type=click.Path(dir_okay=False), default=None,
              help="另存一份标注过的 Excel：有问题的单元格标红（错误）或标橙（提醒），"
                   "并附上说明和“校验结果”表。原台账不会被改动。")
@click.option("--annotate-sheet", "annotate_sheet", is_flag=True, default=False,
              help="把检查结果直接写进 Google 表格：有问题的单元格加颜色和批注，并更新“校验结果”"
                   "工作表；不改动任何数据。服务账号需要“编辑者”权限。配置里写 annotate_sheet: true "
                   "也会这样做。")
@_handle_errors
def validate_cmd(source: str | None, config_path: str | None, fmt: str,
                 annotate_out: str | None, annotate_sheet: bool) -> None:
    """校验台账 SOURCE（Excel 文件、CSV 文件夹或 Google 表格），指出每个有问题的单元格。

    有错误时退出码为 1，只有提醒时为 0，台账无法读取时为 2。
    """
    import json

    from .sources import open_source, resolve_spec
    from .sources.spec import gsheets_id
    from .validate import validate_workbook

    config = _config(config_path)
    spec = resolve_spec(source, config)
    if annotate_sheet and gsheets_id(spec) is None:
        raise FengqiaoError("--annotate-sheet 只能用于 Google 表格。",
                            hint="Excel/WPS 文件和 CSV 请用 --annotate 检查结果.xlsx 另存一份标注过的副本。")
    with working("读取并检查台账"):
        workbook = open_source(spec, config=config)
        # the raw cells are needed afterwards only to draw an annotated copy
        ledger = validate_workbook(workbook, config=config, consume=annotate_out is None)
    if fmt == "json":
        rows = [{key: getattr(f, key) for key in _FINDING_KEYS} for f in ledger.findings]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _echo_findings_table(ledger, workbook.info.name or str(spec))
    if annotate_out:
        from .annotate import annotate_source

        copied = annotate_source(workbook, ledger.findings, Path(annotate_out))
        if fmt == "table":
            click.echo("")
            click.echo(f"已把标注写入 {annotate_out}。" if copied else
                       f"已把标注写入 {annotate_out}（按单元格内容新建的工作簿，原表的格式和公式没有保留）。")
    if annotate_sheet or (config.annotate_sheet and gsheets_id(spec) is not None):
        _annotate_sheet(spec, workbook, ledger.findings, config)
    if ledger.errors:
        sys.exit(EXIT_FINDINGS)


def _annotate_sheet(spec: Any, workbook: Any, findings: Any, config: Config) -> None:
    """Marks in the Google Sheet; a failure is told but never changes
    validate's own exit code (the check itself succeeded)."""
    from .sheet_marks import mark_ledger_sheet

    try:
        with working("把检查结果写进 Google 表格"):
            line = mark_ledger_sheet(spec, findings, config, name=workbook.info.name,
                                     stale=workbook.info.stale_since is not None)
    except FengqiaoError as exc:
        click.echo(f"提醒：{exc}", err=True)
        return
    click.echo(line, err=True)

# --- metrics / overdue (metrics/) ------------------------------------------------

def _ledger_for(source: str | None, config: Config) -> Any:
    """Read and validate the town's ledger the same way ``validate`` does,
    and stop (exit 2) when 纠纷台账 cannot be counted at all."""
    from .sources import open_source, resolve_spec
    from .validate import require_figures, validate_workbook

    with working("读取并检查台账"):
        workbook = open_source(resolve_spec(source, config), config=config)
        ledger = validate_workbook(workbook, config=config, consume=True)
    require_figures(ledger)
    return ledger


def _excluded_notice(ledger: Any) -> None:
    from .validate import NOTICE_CODES

    for finding in ledger.findings:
        if finding.code in NOTICE_CODES:
            click.echo(f"注意：{finding.message}", err=True)
    total = sum(len(f) for f in ledger.excluded.values())
    if total:
        click.echo(f"注意：有 {total} 行因编号、日期或星级有误没有计入统计，"
                   "用 fengqiao validate 可以看到具体的单元格。", err=True)


@cli.command("metrics")
@click.argument("source", required=False)
@click.option("--period", "period_text", required=True,
              help="统计期：2024-03（月）、2024-Q1（季度）、2024-H1（半年）、2024（全年）"
                   "或 2024-01-01..2024-03-31（自定义）。")
@click.option("--as-of", "as_of_text", default=None,
              help="统计截止日期（默认：统计期已结束则为期末，否则为今天）。")
@config_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True,
              help="输出格式：table 为中文表格，json 为发布用的 metrics.json，csv 为可用 Excel 打开的表格。")
@_handle_errors
def metrics_cmd(source: str | None, period_text: str, as_of_text: str | None,
                config_path: str | None, fmt: str) -> None:
    """计算台账 SOURCE 在一个统计期的各项指标（受理、办结、按期办结、满意率等）。"""
    from .metrics import compute_metrics, dumps, parse_date, parse_period
    from .metrics.report import metrics_csv, metrics_table

    config = _config(config_path)
    period = parse_period(period_text)
    as_of = parse_date(as_of_text, what="统计截止日期") if as_of_text else None
    ledger = _ledger_for(source, config)
    contract = compute_metrics(ledger, period, as_of=as_of, config=config,
                               today=clock.today(config))
    if fmt == "json":
        click.echo(dumps(contract), nl=False)
    elif fmt == "csv":
        click.echo(metrics_csv(contract), nl=False)
    else:
        click.echo(metrics_table(contract), nl=False)
    _excluded_notice(ledger)


@cli.command("report")
@click.argument("source", required=False)
@click.option("--period", "period_text", required=True,
              help="统计期：2024-03（月）、2024-Q1（季度）、2024-H1（半年）或 2024（全年）。")
@click.option("--as-of", "as_of_text", default=None,
              help="统计截止日期（默认：统计期已结束则为期末，否则为今天）。")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="报告文件（.docx）；不填则在当前文件夹生成“镇名+期间+矛盾纠纷排查化解工作情况.docx”。")
@config_option
@_handle_errors
def report_cmd(source: str | None, period_text: str, as_of_text: str | None, out: str | None,
               config_path: str | None) -> None:
    """生成一个统计期的工作情况报告（Word 文档，WPS 也能打开）：总体情况、五个底数、
    主要指标及同比环比、各村情况、逾期未办结纠纷、考核目标完成情况和附图。"""
    from .metrics import parse_date, parse_period
    from .townreport import default_name, report_input, write_report

    config = _config(config_path)
    period = parse_period(period_text)
    as_of = parse_date(as_of_text, what="统计截止日期") if as_of_text else None
    ledger = _ledger_for(source, config)
    with working("计算指标并生成报告"):
        data = report_input(ledger, period, config, today=clock.today(config), as_of=as_of)
        path = write_report(data, Path(out) if out else Path(default_name(dict(data.current))))
    click.echo(f"已生成报告：{path}")
    _excluded_notice(ledger)


@cli.command("overdue")
@click.argument("source", required=False)
@click.option("--as-of", "as_of_text", default=None, help="按哪一天判断是否逾期（默认今天）。")
@click.option("--near/--no-near", default=False, show_default=True,
              help="同时列出离期限不超过 deadlines.warn_days 天的在办纠纷。")
@config_option
@_handle_errors
def overdue_cmd(source: str | None, as_of_text: str | None, near: bool,
                config_path: str | None) -> None:
    """列出台账 SOURCE 中逾期未办结的纠纷（督办清单），逾期最久的在前。"""
    from .metrics import parse_date
    from .metrics.lists import supervision_list
    from .metrics.report import overdue_table

    config = _config(config_path)
    as_of = (parse_date(as_of_text, what="日期") if as_of_text
             else clock.today(config))
    ledger = _ledger_for(source, config)
    table = supervision_list(ledger, as_of, config, near_days=None if near else -1)
    click.echo(overdue_table(table, as_of=as_of.isoformat(), town=ledger.town), nl=False)
    _excluded_notice(ledger)


# --- snapshots / sheets (sources/) -----------------------------------------------

_SNAPSHOT_KINDS = {"xlsx": "Excel", "csv": "CSV", "gsheets": "Google 表格", "feishu": "飞书表格"}


def _snapshot_dir(dir_path: str | None, config_path: str | None) -> Path:
    if dir_path:
        return Path(dir_path)
    config = _config(config_path)
    return config.resolve(config.snapshots_dir)


def _echo_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        cells = [c + " " * (w - display_width(c)) for c, w in zip(r, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())


snapshot_dir_option = click.option(
    "--dir", "dir_path", type=click.Path(file_okay=False), default=None,
    help="快照目录（不填则用配置里的 snapshots_dir）。",
)


@cli.group()
def snapshots() -> None:
    """查看、核对、按期清理每次读取时保存的数据快照，或从中删除一起纠纷的个人信息。"""


@snapshots.command("list")
@snapshot_dir_option
@config_option
@_handle_errors
def snapshots_list(dir_path: str | None, config_path: str | None) -> None:
    """列出快照：读取时间、来源和各表行数。"""
    from .sources.guard import size_text
    from .sources.snapshots import list_snapshots

    directory = _snapshot_dir(dir_path, config_path)
    records = list_snapshots(directory)
    if not records:
        click.echo(f"快照目录 {directory} 里还没有快照。")
        return
    rows = [
        [
            r.last_read_at.strftime("%Y-%m-%d %H:%M:%S"),
            _SNAPSHOT_KINDS.get(r.kind, r.kind),
            r.name,
            "，".join(f"{tab} {n}" for tab, n in r.rows.items()) or "—",
            r.file,
        ]
        for r in records
    ]
    _echo_table(["读取时间（UTC）", "类型", "来源", "各表行数", "快照文件"], rows)
    click.echo(f"共 {len(records)} 条快照记录，目录：{directory}")
    files = {r.file: r.path for r in records if r.path.is_file()}
    used = sum(path.stat().st_size for path in files.values())
    oldest = min(r.read_at for r in records)
    click.echo(f"占用空间 {size_text(used)}（{len(files)} 个快照文件）；"
               f"其中最早的台账（含个人信息）读取于 {oldest:%Y-%m-%d}。")


def _retention_line(config: Config) -> str:
    policy = config.snapshots
    return (f"保留规则：最近 {policy.keep_days} 天的快照全部保留，最近 {policy.keep_monthly} 个月"
            "每月保留最后一份，已发布统计所用的快照和每个数据源最新的快照始终保留。")


@snapshots.command("prune")
@click.option("--dry-run", is_flag=True, help="只列出会删除哪些快照，不删除。")
@snapshot_dir_option
@config_option
@_handle_errors
def snapshots_prune(dry_run: bool, dir_path: str | None, config_path: str | None) -> None:
    """按配置里的保留期限（snapshots.keep_days、keep_monthly）删除过期的快照。

    每次 build 成功发布后也会自动执行；删除了什么都记在快照清单里。
    """
    from .sources.retention import REASON_TITLES, prune_snapshots

    config = _config(config_path)
    directory = Path(dir_path) if dir_path else config.resolve(config.snapshots_dir)
    plan = prune_snapshots(directory, keep_days=config.snapshots.keep_days,
                           keep_monthly=config.snapshots.keep_monthly, now=clock.now(),
                           dry_run=dry_run)
    click.echo(_retention_line(config))
    verb = "将删除" if dry_run else "已删除"
    for name in plan.removed_files:
        click.echo(f"{verb}：{name}")
    kept = "；".join(f"{REASON_TITLES[why]} {n} 个" for why, n in plan.reason_counts().items())
    click.echo(f"{verb} {len(plan.removed_files)} 个快照，保留 {len(plan.keep)} 个"
               f"{'（' + kept + '）' if kept else ''}，目录：{directory}")


@snapshots.command("erase")
@click.option("--case", "case", required=True, metavar="编号", help="要删除个人信息的纠纷编号。")
@click.option("--reason", default=None, help="删除的原因，记入快照清单（默认：当事人依法申请删除个人信息）。")
@click.option("--dry-run", is_flag=True, help="只列出会改写哪些快照，不改写。")
@snapshot_dir_option
@config_option
@_handle_errors
def snapshots_erase(case: str, reason: str | None, dry_run: bool, dir_path: str | None,
                    config_path: str | None) -> None:
    """在所有快照里删除一起纠纷的个人信息（当事人、简要情况、备注及关联表里的敏感内容）。

    统计数字不受影响；快照清单记下每个快照改写前后的 sha256、原因和日期。
    台账本身请先在表格里删除。
    """
    from .erasure import DEFAULT_REASON, erase_case

    config = _config(config_path)
    directory = Path(dir_path) if dir_path else config.resolve(config.snapshots_dir)
    report = erase_case(directory, case, config=config, reason=reason or DEFAULT_REASON,
                        now=clock.now(), dry_run=dry_run)
    if not report.found:
        raise FengqiaoError(f"在快照目录 {directory} 的 {report.scanned} 个快照里都没有找到编号为"
                            f"“{report.case}”的纠纷，没有改动任何快照。",
                            hint="请核对纠纷编号（纠纷台账的“编号”一列）。")
    verb = "将改写" if dry_run else "已改写"
    for f in report.files:
        click.echo(f"{verb}：{f.old_file} → {f.new_file}（{f.cells} 个单元格）")
    if not report.files:
        click.echo(f"编号“{report.case}”在 {report.found} 个快照里的个人信息都已经删除过，"
                   "没有需要改写的快照。")
        return
    click.echo(f"{verb} {len(report.files)} 个快照（共 {report.scanned} 个，"
               f"{report.found} 个含有编号“{report.case}”）"
               + ("。" if dry_run else "，改写前后的 sha256 已记入快照清单。"))


@snapshots.command("verify")
@snapshot_dir_option
@config_option
@_handle_errors
def snapshots_verify(dir_path: str | None, config_path: str | None) -> None:
    """核对快照文件与清单是否一致；有问题时退出码为 1。"""
    from .sources.snapshots import list_snapshots, verify_snapshots

    directory = _snapshot_dir(dir_path, config_path)
    problems = verify_snapshots(directory)
    if problems:
        _echo_table(["序号", "问题"], [[str(i), p] for i, p in enumerate(problems, 1)])
        click.echo(f"发现 {len(problems)} 个问题，快照目录：{directory}")
        sys.exit(EXIT_FINDINGS)
    count = len({r.file for r in list_snapshots(directory)})
    click.echo(f"快照目录 {directory} 完好：{count} 个快照文件都与清单记录一致。")


# sheets init (sources/gsheets.py)


@cli.group()
def sheets() -> None:
    """Google 表格：按模板准备一张新的台账表格。"""


@sheets.command("init")
@click.argument("spreadsheet")
@click.option("--credentials", "credentials", type=click.Path(dir_okay=False), default=None,
              help="Google 服务账号 JSON 密钥文件（不填则用环境变量 FENGQIAO_GOOGLE_CREDENTIALS，"
                   "再不行用配置里的 google_credentials）。")
@click.option("--tab", "tabs", multiple=True,
              help="只准备这些工作表，填英文 id（如 disputes），可以写多次；不填则准备全部。")
@config_option
@_handle_errors
def sheets_init(spreadsheet: str, credentials: str | None, tabs: tuple[str, ...],
                config_path: str | None) -> None:
    """给 SPREADSHEET（表格链接或 ID）加上缺少的工作表、表头、下拉选项和日期格式。

    已有数据的工作表不会被改动，只核对表头并报告缺少的列。服务账号需要有“编辑者”权限。
    """

    from .sheets_init import init_spreadsheet
    from .sources.gsheets import credentials_for
    from .townschema import schema_for

    config = _config(config_path)
    schema = schema_for(config)  # the dropdowns offer the town's own ranks
    unknown = [t for t in tabs if t not in schema.tabs]
    if unknown:
        raise FengqiaoError(f"不认识的工作表 id：{'、'.join(unknown)}。",
                            hint=f"可用的 id 有：{'、'.join(schema.tabs)}。")
    report = init_spreadsheet(spreadsheet, credentials_path=credentials_for(config, credentials),
                              schema=schema,
                              tabs=list(tabs) if tabs else None)
    for line in report.summary_lines():
        click.echo(line)


# --- build / serve (sitebuild.py) ------------------------------------------------


verbose_option = click.option(
    "--verbose", is_flag=True, default=False,
    help="同时显示网站引擎 MkDocs 自己的运行日志（英文），排查问题时用。")


def _engine_log(verbose: bool) -> Callable[[str], None] | None:
    """Where the engine's own (English) log goes: the terminal with
    --verbose, nowhere otherwise."""
    return (lambda line: click.echo(line, err=True)) if verbose else None


@cli.command("build")
@config_option
@click.option("--source", default=None,
              help="台账文件、CSV 文件夹、Google 表格或飞书表格地址（不填则用配置里的 source）。")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="public",
              show_default=True,
              help="网站输出文件夹；生成成功后才替换原来的网站。只能是新的、空的或 fengqiao 以前生成的网站文件夹。")
@click.option("--zip", "make_zip", is_flag=True, help="同时把网站打成一个 zip 压缩包（放在输出文件夹旁边）。")
@verbose_option
@_handle_errors
def build_command(config_path: str | None, source: str | None, out_dir: str, make_zip: bool,
                  verbose: bool) -> None:
    """读取台账，生成内部网站（统计、清单、工作规程、下载文件）。"""
    from .cli_progress import StepProgress
    from .sitebuild import build_site

    config = _config(config_path)
    out = Path(out_dir).resolve()
    zip_path = out.parent / f"{out.name}.zip" if make_zip else None
    with StepProgress() as step:
        result = build_site(config, source=source, out=out, zip_path=zip_path, progress=step,
                            today=clock.today(config), engine_log=_engine_log(verbose))
    t = result.timings
    click.echo(f"网站已生成：{result.out}（{result.pages} 个页面，"
               f"统计图新画 {result.charts_drawn} 张、沿用 {result.charts_reused} 张，"
               f"用时 {t.get('total', 0):.1f} 秒，其中网站引擎 {t.get('mkdocs', 0):.1f} 秒）")
    if result.zip_path:
        click.echo(f"压缩包：{result.zip_path}")
    if result.stale:
        click.echo("注意：最新一次读取台账失败，网站使用的是上次保存的数据。", err=True)
    if result.errors:
        click.echo(f"台账有 {result.errors} 处错误，详见网站“数据质量”页面。", err=True)


@cli.command("serve")
@config_option
@click.option("--dir", "out_dir", type=click.Path(file_okay=False), default="public",
              show_default=True, help="网站输出文件夹（生成用的中间文件在它旁边的“<输出文件夹>.fengqiao-tmp”文件夹里）。")
@click.option("--no-rebuild", is_flag=True, help="不重新读取台账，直接预览上次生成的结果。")
@click.option("--port", type=int, default=8000, show_default=True, help="本机预览端口。")
@verbose_option
@_handle_errors
def serve_command(config_path: str | None, out_dir: str, no_rebuild: bool, port: int,
                  verbose: bool) -> None:
    """在本机预览网站；修改 site/ 里的页面后自动刷新。按 Ctrl+C 退出。"""
    from .cli_progress import StepProgress
    from .sitebuild import serve_site

    config = _config(config_path)
    out = Path(out_dir).resolve()

    def announce(url: str) -> None:
        step.finish()  # from here on, messages are events, not steps to wait for
        click.echo(f"预览地址：{url}  （按 Ctrl+C 退出）", err=True)

    with StepProgress() as step, contextlib.suppress(KeyboardInterrupt), _stopped_like_ctrl_c():
        serve_site(config, out=out, port=port, rebuild=not no_rebuild, progress=step,
                   announce=announce, engine_log=_engine_log(verbose))


@contextlib.contextmanager
def _stopped_like_ctrl_c() -> Any:
    """A termination signal (``kill``, ``timeout``, a service manager, a
    closed terminal) stops the preview the way Ctrl+C does. Python's default
    for SIGTERM ends the process on the spot, which left the engine it
    started serving the port with nobody to stop it; raised as an interrupt,
    the preview's own clean-up stops the engine first."""
    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    names = ("SIGTERM", "SIGHUP")  # no SIGHUP on Windows
    wanted = [getattr(signal, n) for n in names if hasattr(signal, n)]
    previous = {s: signal.signal(s, interrupt) for s in wanted}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# --- rollup / county (county/) --------------------------------------------------------


def _county_config(config_path: str | None) -> Any:
    from .county.config import load_county_config

    path = Path(config_path) if config_path else Path("county.yml")
    if config_path is None and not path.exists():
        raise FengqiaoError("没有找到县级配置文件 county.yml。",
                            hint="请用 --config 指定配置文件，或在命令后直接列出各下级单位（见 fengqiao rollup build --help）。")
    return load_county_config(path)


_COUNTY_RECEIPT_WORDS = {"valid": "有效", "invalid": "无效", "failed": "未收到"}

county_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="汇总配置文件（默认当前文件夹的 county.yml；市级、省级也用它）。",
)
county_now_option = click.option(
    "--now", "now_text", default=None, metavar="时间",
    help="把这次收取记为这个时间（如 2024-04-12T09:30，默认现在）；不带时区时按本级（timezone）的时间。",
)


@cli.group("rollup")
def rollup_group() -> None:
    """汇总：收取下级的统计文件，汇总、排名、统计报送情况，生成汇总网站。

    乡镇汇总到县，县汇总到市，市汇总到省，都用这一组命令：county.yml 里写 level: 市（或 省），
    下级就可以是县（或市）的汇总网站，和收取乡镇网站一样。完整率和及时率按下面的乡镇计算。
    fengqiao county 是它原来的名称，用法完全相同。
    """


@cli.group("county")
def county_group() -> None:
    """县级汇总（fengqiao rollup 的别名，用法完全相同）。"""


@rollup_group.command("collect")
@county_config_option
@click.option("--period", "periods", multiple=True, required=True, metavar="统计期",
              help="要收取的统计期，如 2024-Q1、2024-03；可以写多次。")
@county_now_option
@_handle_errors
def county_collect_cmd(config_path: str | None, periods: tuple[str, ...], now_text: str | None) -> None:
    """收取各下级单位这几期的 metrics.json，检查后存档，并记录收取情况。

    下级是乡镇网站，或者（市级、省级汇总时）县级、市级汇总网站。某个单位连不上、文件无效、统计期不对或层级不低于本级，
    不影响其他单位；有任何单位没有收到有效文件时，退出码为 1。
    """
    from .county.collect import collect, parse_now
    from .metrics.periods import parse_period

    config = _county_config(config_path)
    wanted = [parse_period(p) for p in periods]
    receipts = collect(config, wanted, now=parse_now(now_text, config))
    for r in receipts:
        line = f"{r.period} {r.town}：{_COUNTY_RECEIPT_WORDS[r.status]}"
        if r.file:
            line += f"（存档 {r.file}）"
        if r.reason:
            line += f" —— {r.reason}"
        click.echo(line)
    bad = sum(1 for r in receipts if r.status != "valid")
    click.echo(f"共收取 {len(receipts)} 份，有效 {len(receipts) - bad} 份，有问题 {bad} 份。"
               f"存档位置：{config.collection_dir}")
    if bad:
        sys.exit(EXIT_FINDINGS)


@rollup_group.command("build")
@click.argument("towns", nargs=-1)
@county_config_option
@click.option("--period", required=True, metavar="统计期", help="网站展示的统计期，如 2024-Q1。")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="public-county",
              show_default=True, help="网站输出文件夹。")
@click.option("--name", "county_name", default="本县", show_default=True,
              help="不用配置文件时本级的名称（县、旗、市、省）。")
@click.option("--level", type=click.Choice(["县", "市", "省"]), default=None,
              help="不用配置文件时本级的层级（默认：县）；下级是县级网站时写 市。")
@click.option("--collection", "collection_dir", type=click.Path(file_okay=False), default=None,
              help="不用配置文件时，收到的文件存放在哪里（默认输出文件夹旁的 <输出>-collection）。")
@county_now_option
@_handle_errors
def county_build_cmd(towns: tuple[str, ...], config_path: str | None, period: str, out_dir: str,
                     county_name: str, level: str | None, collection_dir: str | None,
                     now_text: str | None) -> None:
    """生成汇总网站（概览、各下级单位、对比、督办清单、报送情况、数据下载）。

    用配置文件时，展示已经收取（fengqiao rollup collect）的文件。也可以不用配置文件，直接列出各下级单位：
    每个 TOWN 是生成好的乡镇网站或县级汇总网站的文件夹、http(s):// 网站地址，或台账（.xlsx、CSV 文件夹、gsheets:表格ID），
    台账会当场计算。网站的 downloads/统计期/metrics.json 是本级的汇总文件，上一级可以像收取乡镇一样收取它。
    """
    from .county.collect import classify, parse_now, quick_collect
    from .county.config import county_config
    from .county.site import build_county_site, claim_site
    from .metrics.periods import parse_period

    wanted = parse_period(period)
    out = Path(out_dir)
    if towns:
        if config_path:
            raise FengqiaoError("--config 和直接列出的下级单位只能用一种。",
                                hint="用配置文件时请先运行 fengqiao rollup collect 收取。")
        collection = Path(collection_dir) if collection_dir else out.with_name(out.name + "-collection")
        claim_site(out, [classify(t) for t in towns])  # before anything is collected
        probe = county_config(county_name, collection_dir=collection)
        config = quick_collect(list(towns), wanted, name=county_name, collection=collection,
                               now=parse_now(now_text, probe), level=level or "县")
    else:
        if level is not None:
            raise FengqiaoError("--level 只用于直接列出下级单位的汇总。",
                                hint="用配置文件时请在 county.yml 里写 level: 市（或 省）。")
        config = _county_config(config_path)
    result = build_county_site(config, wanted, out)
    r = result.report
    click.echo(f"已生成{config.name} {wanted.label} {config.level}级网站：{result.out}")
    click.echo(f"应报 {len(r.statuses)} 个{result.unit_word}：{_status_words(r.counts)}")
    if not r.units_are_towns:
        expected = "—" if r.reporting is None or r.reporting.towns_expected is None \
            else r.reporting.towns_expected
        click.echo(f"下属乡镇应报 {expected} 个：{_status_words(r.town_counts)}")
    for s in r.statuses:
        if s.reason:
            click.echo(f"  {s.town}（{s.status}）：{s.reason}")



def _status_words(counts: dict[str, int]) -> str:
    """按时 2，迟报 1 … as the build prints them."""
    reported = f"已报 {counts['已报']}（不判断时限），" if counts["已报"] else ""
    return (f"{reported}按时 {counts['按时']}，迟报 {counts['迟报']}，"
            f"未报 {counts['未报']}，数据无效 {counts['数据无效']}。")


for _command in (county_collect_cmd, county_build_cmd):  # the old name keeps working
    county_group.add_command(_command)


#: Arrow's allocator (mimalloc) keeps freed memory for a while before giving
#: it back, and glibc's malloc serves a freed large block's size from its
#: heap from then on (its mmap threshold rises to it) and keeps what the
#: heap frees. On a million-row ledger both together hold some 400 MB of
#: peak memory; returning it at once costs page faults, a few tenths of a
#: second (bench/RESULTS.md, province scale). mimalloc reads its setting
#: when Arrow first allocates, so it is set before any command imports
#: Arrow; a value the user set wins.
ALLOCATOR_ENV = {"MIMALLOC_PURGE_DELAY": "0"}
MMAP_THRESHOLD = 1 << 20  # bytes; glibc's fixed value for MALLOC_MMAP_THRESHOLD_
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def tune_allocators() -> None:
    """The process-wide memory settings above; called once, first thing,
    by the command (a library user keeps their own). Nothing happens where
    they do not apply (another C library, Arrow already loaded)."""
    for key, value in ALLOCATOR_ENV.items():
        os.environ.setdefault(key, value)
    if sys.platform.startswith("linux") and "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def main() -> None:
    tune_allocators()
    try:
        resources.require_complete()
    except FengqiaoError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(exc.exit_code)
    cli(prog_name="fengqiao")
