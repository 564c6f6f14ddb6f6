"""Click's frame in Chinese: every help page, usage errors and --version."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

from fengqiao.cli import cli
from fengqiao.cli_frame import display_width, wrap, wrap_paragraphs
from fengqiao.cli_progress import StepProgress

ENGLISH_FRAME = ("Usage", "Options", "Commands", "Show this message", "Show the version",
                 "[default", "[required]", "Error", "Try '", "TEXT", "DIRECTORY", "FILE",
                 "INTEGER", "PATH")
#: CliRunner fixes the help width at 80 columns
WIDTH = 80


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += _paths(command, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


COMMAND_PATHS = _paths(cli)


def _section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def _help_columns(rows: list[str]) -> set[int]:
    """The display column where each row's help text starts: after the two
    or more spaces that end the term, or the indent of a continuation line."""
    columns = set()
    for line in rows:
        if line.startswith("  ") and not line.startswith("   "):  # a term line
            m = re.match(r"^( +\S.*?)( {2,})(\S.*)$", line)
            if m:  # else a long term whose help starts on the next line
                columns.add(display_width(m.group(1) + m.group(2)))
        else:
            columns.add(len(line) - len(line.lstrip(" ")))
    return columns


def test_every_command_is_walked() -> None:
    assert ("validate",) in COMMAND_PATHS
    assert ("schema", "export") in COMMAND_PATHS
    assert ("county", "build") in COMMAND_PATHS
    assert () in COMMAND_PATHS and ("county",) in COMMAND_PATHS


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "fengqiao")
def test_help_is_chinese_and_aligned(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="fengqiao")
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("用法：fengqiao " + "".join(p + " " for p in path) + "[选项]")
    for word in ENGLISH_FRAME:
        assert word not in text, word
    assert "  -h, --help" in text and "显示帮助并退出。" in text
    options = _section(text, "选项：")
    assert len(_help_columns(options)) == 1, options
    if "命令：" in text:
        assert len(_help_columns(_section(text, "命令："))) == 1
    assert max(display_width(line) for line in text.splitlines()) <= WIDTH


def test_option_placeholders_and_defaults() -> None:
    text = CliRunner().invoke(cli, ["build", "--help"]).output
    assert "  --out 文件夹  " in text
    assert "  --config 文件  " in text
    assert "  --source 文本  " in text
    assert "（默认：public）。" in text
    period = CliRunner().invoke(cli, ["county", "build", "--help"]).output
    assert "网站展示的统计期，如 2024-Q1（必填）。" in period


def test_misaligned_help_is_detected() -> None:
    """The column check itself fails on the layout Click 8.3 produced
    before (widths counted with len())."""
    click_layout = [
        "  --config FILE    项目配置文件 fengqiao.yml（不填则用默认配置）。",
        "  --source TEXT    台账文件、CSV 文件夹或 Google 表格地址（不填则用配置里的 source）。",
        "  --out 文件夹  网站输出文件夹。",
    ]
    assert len(_help_columns(click_layout)) == 2


def _fail(args: list[str]) -> click.testing.Result:
    result = CliRunner().invoke(cli, args, prog_name="fengqiao")
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for word in ENGLISH_FRAME:
        assert word not in result.output, word
    return result


def test_missing_argument() -> None:
    result = _fail(["sheets", "init"])
    assert result.stderr.splitlines() == [
        "用法：fengqiao sheets init [选项] SPREADSHEET",
        "输入 fengqiao sheets init -h 查看帮助。",
        "",
        "错误：缺少参数 SPREADSHEET。",
    ]


def test_missing_option() -> None:
    result = _fail(["metrics", "demo.xlsx"])
    assert result.stderr.splitlines()[-1] == "错误：缺少选项 --period。"


def test_unknown_option_with_suggestion() -> None:
    assert _fail(["validate", "--bogus"]).stderr.splitlines()[-1] == "错误：没有 --bogus 这个选项。"
    assert _fail(["validate", "--formt", "json"]).stderr.splitlines()[-1] == (
        "错误：没有 --formt 这个选项。是不是想写 --format？")


def test_bad_choice() -> None:
    result = _fail(["validate", "--format", "xml", "demo.xlsx"])
    assert result.stderr.splitlines()[0] == "用法：fengqiao validate [选项] [SOURCE]"
    assert result.stderr.splitlines()[-1] == "错误：--format 的值不对：只能是 table、json 中的一个。"


def test_bad_number_and_path(tmp_path: Path) -> None:
    assert _fail(["serve", "--port", "八千"]).stderr.splitlines()[-1] == (
        "错误：--port 的值不对：要写一个整数。")
    assert _fail(["validate", "--config", str(tmp_path)]).stderr.splitlines()[-1] == (
        "错误：--config 的值不对：要写一个文件，这里写的是已有的文件夹。")


def test_option_usage_errors() -> None:
    result = _fail(["validate", "--config"])
    assert result.stderr.splitlines() == [
        "用法：fengqiao validate [选项] [SOURCE]",
        "输入 fengqiao validate -h 查看帮助。",
        "",
        "错误：--config 后面要写一个值。",
    ]
    assert _fail(["build", "--zip=yes"]).stderr.splitlines()[-1] == (
        "错误：--zip 是开关，后面不能带值。")


def test_extra_argument_and_unknown_command() -> None:
    assert _fail(["validate", "a.xlsx", "b.xlsx"]).stderr.splitlines()[-1] == (
        "错误：多出来的参数：b.xlsx。是不是漏写了选项名，或者带空格的文件名没有加引号？")
    last = _fail(["valdate"]).stderr.splitlines()[-1]
    assert last.startswith("错误：没有“valdate”这个命令。可用的命令：build、county、")


def test_bare_group_shows_its_help() -> None:
    result = _fail(["schema"])
    assert result.stderr.startswith("用法：fengqiao schema [选项] 命令 [参数]...")
    assert "  export  把各工作表的结构导出为标准的 Table Schema 和 datapackage.json。" in (
        result.stderr)


def test_version_is_chinese() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(cli, ["--version"], prog_name="fengqiao")
    assert result.exit_code == 0
    assert result.output == f"fengqiao 版本 {version('fengqiao')}\n"
    assert "  --version   显示版本并退出。" in CliRunner().invoke(cli, ["-h"]).output


def test_command_exit_codes_pass_through(tmp_path: Path) -> None:
    """``sys.exit`` inside a command is not Click's business: its code stays."""
    missing = CliRunner().invoke(cli, ["validate", str(tmp_path / "无此文件.xlsx")])
    assert missing.exit_code == 2  # a FengqiaoError, printed by cli.py as before
    assert missing.output.startswith("错误：")


def test_console_script_speaks_chinese() -> None:
    """The installed ``fengqiao`` entry point goes through the same frame."""
    script = Path(sys.executable).with_name("fengqiao")
    proc = subprocess.run([str(script), "validate", "--bogus"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == "错误：没有 --bogus 这个选项。"
    assert proc.stdout == ""


def test_wrap_by_display_width() -> None:
    assert display_width("网站 site") == 9
    text = "网站输出文件夹；生成成功后才替换原来的网站。"
    lines = wrap(text, 20).splitlines()
    assert lines == ["网站输出文件夹；生成", "成功后才替换原来的网", "站。"]
    # a closing mark never starts a line, a Latin word is never split
    assert wrap("一二三四五，六七", 10).splitlines() == ["一二三四", "五，六七"]
    assert wrap("台账文件 fengqiao.yml 的位置", 14).splitlines() == [
        "台账文件", "fengqiao.yml", "的位置"]
    # a docstring's line break between Chinese characters is no space
    assert wrap_paragraphs("第一行\n第二行 Excel\n文件", 40) == "第一行第二行 Excel 文件"


# --- build and serve: fengqiao's own Chinese lines only, the engine's with --verbose ------

ENGINE_WORDS = ("INFO", "Building prefix dict", "Prefix dict", "mkdocs", "MkDocs", "Documentation")


@pytest.fixture(scope="module")
def tiny_town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fengqiao.demo import generate_town, write_workbook

    folder = tmp_path_factory.mktemp("town")
    write_workbook(generate_town(3, scale=0.1, defects=False), folder / "台账.xlsx")
    (folder / "fengqiao.yml").write_text(
        "town: 枫溪镇\nsource: 台账.xlsx\nreport_date: 2024-12-31\nsnapshots_dir: snapshots\n"
        "site:\n  months: 2\n", encoding="utf-8")
    return folder


def _build(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("fengqiao")
    return subprocess.run([str(script), "build", "--config", str(folder / "fengqiao.yml"),
                           "--out", str(folder / "public"), *extra],
                          capture_output=True, text=True, check=False, cwd=folder)


def _engine_lines(text: str) -> list[str]:
    """Lines of the engine's own log (the step line naming MkDocs is ours)."""
    return [line for line in text.splitlines()
            if any(w in line for w in ENGINE_WORDS) and not line.startswith("· 运行网站引擎")
            and not line.startswith("网站已生成")]


def test_build_shows_only_its_own_lines(tiny_town: Path) -> None:
    proc = _build(tiny_town)
    assert proc.returncode == 0, proc.stderr
    assert _engine_lines(proc.stdout + proc.stderr) == []
    assert proc.stderr.splitlines()[0] == "· 读取台账：台账.xlsx"
    assert all(line.startswith("· ") for line in proc.stderr.splitlines())
    assert proc.stdout.startswith(f"网站已生成：{tiny_town / 'public'}（")


def test_build_verbose_shows_the_engine_log(tiny_town: Path) -> None:
    proc = _build(tiny_town, "--verbose")
    assert proc.returncode == 0, proc.stderr
    engine = _engine_lines(proc.stderr)
    assert any(line.startswith("INFO") and "Documentation built" in line for line in engine)
    assert "Building prefix dict from the default dictionary ..." in engine
    assert _engine_lines(proc.stdout) == []  # the summary on stdout stays clean
    # the engine's lines come between the step that starts it and the last step
    lines = proc.stderr.splitlines()
    start = lines.index("· 运行网站引擎 MkDocs")
    assert all(lines.index(line) > start for line in engine)


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=80), buffer


def test_progress_spins_on_a_terminal_for_a_long_step() -> None:
    console, buffer = _terminal()
    with StepProgress(console=console, delay=0) as progress:
        progress("读取台账：台账.xlsx")
        deadline = time.monotonic() + 30
        while not progress.spinner_shown and time.monotonic() < deadline:
            time.sleep(0.01)
        assert progress.spinner_shown
    text = buffer.getvalue()
    assert "· 读取台账：台账.xlsx" in text
    assert "读取台账：台账.xlsx……" in text  # the spinner's line
    assert not progress.spinner_shown  # gone after the block


def test_progress_skips_the_spinner_for_a_short_step() -> None:
    console, buffer = _terminal()
    with StepProgress(console=console, delay=3600) as progress:
        progress("检查台账")
    assert "· 检查台账" in buffer.getvalue()
    assert "检查台账……" not in buffer.getvalue()


def test_progress_off_a_terminal_is_plain_lines() -> None:
    buffer = io.StringIO()
    progress = StepProgress(console=Console(file=buffer, force_terminal=False), delay=0)
    assert not progress.spinning
    result = CliRunner().invoke(click.command()(lambda: progress("检查台账")))
    assert result.stderr == "· 检查台账\n"
    assert buffer.getvalue() == ""
