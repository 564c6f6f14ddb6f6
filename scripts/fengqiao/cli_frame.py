"""Click's frame in Chinese: usage line, headings, help option, columns, errors.

Click writes its own frame around our Chinese help texts ("Usage:",
"Options:", "Show this message and exit.", "Error: No such option") and
measures column widths with ``len()``, so a Chinese placeholder or help text
pushes the option columns out of line. Township staff should read one
language, and the columns should line up in a terminal where a Chinese
character takes two cells.

Everything goes through Click's public extension points, so no Click global
changes: :class:`ChineseGroup` is the ``cls`` of the top-level group (its
sub-groups and commands inherit it through ``group_class`` and
``command_class``), its context makes a :class:`ChineseHelpFormatter`, and
its ``main`` prints usage errors with Chinese templates chosen by exception
type. Exit codes stay Click's (2 for a usage error).
"""

from __future__ import annotations

import inspect
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import click
from click.exceptions import NoArgsIsHelpError

USAGE_PREFIX = "用法："
OPTIONS_HEADING = "选项"
COMMANDS_HEADING = "命令"
OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."
HELP_OPTION_HELP = "显示帮助并退出。"
VERSION_OPTION_HELP = "显示版本并退出。"
VERSION_MESSAGE = "%(prog)s 版本 %(version)s"

#: Click's type name → the placeholder shown after an option
PLACEHOLDERS = {
    "text": "文本",
    "integer": "整数",
    "float": "数字",
    "boolean": "是/否",
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
}

#: a line may not start with these (they stay with the text before them) ...
_NO_BREAK_BEFORE = frozenset("，。、；：？！）》」』”’】…,.;:?!)]}%")
#: ... nor end with these (they stay with the text after them)
_NO_BREAK_AFTER = frozenset("（《「『“‘【([{")

F = TypeVar("F", bound=Callable[..., Any])


# --- measuring and wrapping by display width ----------------------------------


def char_width(ch: str) -> int:
    """Cells a character takes in a terminal: East Asian wide and full-width
    characters take two, combining marks none."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def display_width(text: str) -> int:
    """Cells ``text`` takes in a terminal (colour codes take none)."""
    return sum(char_width(ch) for ch in click.unstyle(text))


def _is_wide(ch: str) -> bool:
    return char_width(ch) == 2


def _can_break(before: str, after: str) -> bool:
    """Whether a line may break between two adjacent non-space characters:
    only beside a Chinese character (a Latin word or a path stays whole), and
    never before closing or after opening punctuation."""
    if before in _NO_BREAK_AFTER or after in _NO_BREAK_BEFORE:
        return False
    return _is_wide(before) or _is_wide(after)


def _units(text: str) -> Iterator[tuple[str, bool]]:
    """Unbreakable pieces of ``text`` with whether a space precedes each."""
    space = False
    for word in text.split(" "):
        if not word:
            space = True
            continue
        start = 0
        for i in range(1, len(word)):
            if _can_break(word[i - 1], word[i]):
                yield word[start:i], space
                space = False
                start = i
        yield word[start:], space
        space = True


def wrap(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """One paragraph filled to ``width`` display cells. Chinese text breaks
    between characters, Latin words at spaces; a piece wider than a whole
    line is cut where it must be."""
    lines: list[str] = []
    line, used, empty = initial_indent, display_width(initial_indent), True
    for unit, space in _units(" ".join(text.split())):
        gap = 1 if space and not empty else 0
        unit_width = display_width(unit)
        if not empty and used + gap + unit_width > width:
            lines.append(line)
            line, used, empty, gap = subsequent_indent, display_width(subsequent_indent), True, 0
        if empty and used + unit_width > width:
            for ch in unit:  # longer than a line (a long path): cut it
                w = char_width(ch)
                if not empty and used + w > width:
                    lines.append(line)
                    line, used = subsequent_indent, display_width(subsequent_indent)
                line, used, empty = line + ch, used + w, False
            continue
        line, used, empty = line + " " * gap + unit, used + gap + unit_width, False
    lines.append(line)
    return "\n".join(lines)


def _join_lines(lines: Sequence[str]) -> str:
    """Lines of one paragraph as one string: a docstring line break between
    two Chinese characters is no space, elsewhere it is one."""
    text = ""
    for line in (ln.strip() for ln in lines):
        if text and line and not (_is_wide(text[-1]) and _is_wide(line[0])):
            text += " "
        text += line
    return text


def wrap_paragraphs(text: str, width: int, indent: str = "") -> str:
    """Like Click's ``wrap_text(..., preserve_paragraphs=True)``: paragraphs
    are separated by a blank line, and one whose first line is ``\\b`` is
    kept as written."""
    out: list[str] = []
    for block in inspect.cleandoc(text).split("\n\n"):
        lines = block.splitlines()
        if not lines:
            continue
        if lines[0].strip() == "\b":
            out.append("\n".join(indent + ln for ln in lines[1:]))
            continue
        extra = " " * (len(lines[0]) - len(lines[0].lstrip()))
        out.append(wrap(_join_lines(lines), width, indent + extra, indent + extra))
    return "\n\n".join(out)


class ChineseHelpFormatter(click.HelpFormatter):
    """Click's help layout with Chinese headings, measured in display cells."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        prefix = USAGE_PREFIX if prefix is None else prefix
        pad = " " * max(self.current_indent - display_width(prefix), 0)
        head = f"{pad}{prefix}{prog} "
        text_width = self.width - self.current_indent
        if text_width >= display_width(head) + 20:
            self.write(wrap(args, text_width, head, " " * display_width(head)))
        else:
            indent = " " * (max(self.current_indent, display_width(prefix)) + 4)
            self.write(head + "\n" + wrap(args, text_width, indent, indent))
        self.write("\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")

    def write_text(self, text: str) -> None:
        self.write(wrap_paragraphs(text, self.width, " " * self.current_indent) + "\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30,
                 col_spacing: int = 2) -> None:
        rows = list(rows)
        if not rows:
            return
        first_col = min(max(display_width(first) for first, _ in rows), col_max) + col_spacing
        text_width = max(self.width - first_col - 2, 10)
        hang = " " * (first_col + self.current_indent)
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if display_width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - display_width(first)))
            else:  # a long option name: its help starts on the next line, in the column
                self.write("\n" + hang)
            lines = wrap_paragraphs(second, text_width).splitlines() or [""]
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write((hang + line if line else "") + "\n")


class ChineseContext(click.Context):
    """A context whose help is laid out by :class:`ChineseHelpFormatter`."""

    formatter_class = ChineseHelpFormatter


# --- commands and groups ---------------------------------------------------------


def option_help(option: click.Option, ctx: click.Context) -> str:
    """An option's help with Click's bracketed extras ("[default: x]",
    "[required]") in Chinese, before the closing full stop."""
    text = option.help or ""
    extra = option.get_help_extra(ctx)
    notes: list[str] = []
    if "envvars" in extra:
        notes.append("环境变量：" + "、".join(extra["envvars"]))
    if "default" in extra:
        notes.append(f"默认：{extra['default']}")
    if "range" in extra:
        notes.append(f"范围：{extra['range']}")
    if "required" in extra:
        notes.append("必填")
    if not notes:
        return text
    note = "（" + "；".join(notes) + "）"
    return text[:-1] + note + "。" if text.endswith("。") else text + note


def short_help(command: click.Command) -> str:
    """A command's line in its group's list: its first sentence (Click's own
    shortening looks for ". " and counts characters, not cells)."""
    if command.short_help:
        return inspect.cleandoc(command.short_help)
    text = inspect.cleandoc(command.help or "").partition("\f")[0]
    first = text.split("\n\n", 1)[0].replace("\b", "")
    sentence = _join_lines(first.splitlines())
    end = sentence.find("。")
    return sentence[: end + 1] if end != -1 else sentence


class ChineseCommand(click.Command):
    """A command whose help and usage errors are Chinese throughout."""

    context_class = ChineseContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        super().__init__(*args, **kwargs)
        for param in self.params:  # "--out 文件夹" rather than "--out DIRECTORY"
            if (isinstance(param, click.Option) and param.metavar is None
                    and not param.is_flag and not param.count):
                placeholder = PLACEHOLDERS.get(param.type.name)
                if placeholder:
                    param.metavar = placeholder

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION_HELP
        return option

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            help_text = option_help(param, ctx) if isinstance(param, click.Option) else record[1]
            rows.append((record[0], help_text))
        if rows:
            with formatter.section(OPTIONS_HEADING):
                formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Click's own check for leftover arguments words its message in
        # English; let it pass them through and make the same check here.
        allowed = ctx.allow_extra_args
        ctx.allow_extra_args = True
        try:
            rest = super().parse_args(ctx, args)
        except click.UsageError as exc:
            if exc.ctx is None:  # the parser raises some without one: add it for the usage line
                exc.ctx, exc.cmd = ctx, self
            raise
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            ctx.fail(f"多出来的参数：{' '.join(rest)}。"
                     "是不是漏写了选项名，或者带空格的文件名没有加引号？")
        return rest


class ChineseGroup(ChineseCommand, click.Group):
    """The top-level group: lists its commands in Chinese, and its ``main``
    prints usage errors in Chinese with Click's exit codes."""

    command_class = ChineseCommand
    group_class = type  # sub-groups are ChineseGroups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND_METAVAR)
        super().__init__(*args, **kwargs)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, short_help(command)))
        if rows:
            with formatter.section(COMMANDS_HEADING):
                formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if (not ctx.resilient_parsing and not name.startswith("-")
                and ctx.token_normalize_func is None and self.get_command(ctx, name) is None):
            known = [n for n in self.list_commands(ctx)
                     if not getattr(self.get_command(ctx, n), "hidden", False)]
            ctx.fail(f"没有“{name}”这个命令。可用的命令：{'、'.join(known)}。")
        return super().resolve_command(ctx, args)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Click's ``main``, with its error printing replaced by ours.

        Click runs in non-standalone mode, so its exceptions reach us
        instead of its English ``show()``; ``sys.exit`` from a command
        passes through untouched."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.Abort:
            click.echo("已中止。", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            show_error(exc)
            sys.exit(exc.exit_code)
        # without standalone mode Click returns the code of an early exit
        # (--help, --version) or what the command returned (None for ours)
        sys.exit(result if type(result) is int else 0)


def version_option() -> Callable[[F], F]:
    """``--version`` with a Chinese help line and answer."""
    return click.version_option(package_name="fengqiao", message=VERSION_MESSAGE,
                                help=VERSION_OPTION_HELP)


# --- usage errors -----------------------------------------------------------------


def _label(param: click.Parameter) -> str:
    """How an error names a parameter: the option as typed, or the
    argument's placeholder as the usage line shows it."""
    if isinstance(param, click.Option):
        return " / ".join(param.opts)
    return param.human_readable_name


def _choices(kind: click.Choice) -> str:
    return "、".join(str(c) for c in kind.choices)


def _bad_value_reason(exc: click.BadParameter) -> str:
    """Why a value was refused, from the parameter's type (Click's own
    message is English and its wording is not ours to parse, except for the
    four fixed endings of a path check)."""
    kind = exc.param.type if exc.param is not None else None
    if isinstance(kind, click.Choice):
        return f"只能是 {_choices(kind)} 中的一个"
    if isinstance(kind, click.types.IntParamType):
        return "要写一个整数"
    if isinstance(kind, click.types.FloatParamType):
        return "要写一个数字"
    if isinstance(kind, click.Path):
        message = exc.message
        if message.endswith("is a directory."):
            return "要写一个文件，这里写的是已有的文件夹"
        if message.endswith("is a file."):
            return "要写一个文件夹，这里写的是已有的文件"
        if message.endswith("is not readable."):
            return "这个路径没有读取权限"
        if message.endswith("is not writable."):
            return "这个路径没有写入权限"
        return "这个路径不能用"
    return exc.message


def error_message(exc: click.ClickException) -> str:
    """A Click exception as one Chinese sentence or two (without "错误：")."""
    if isinstance(exc, click.MissingParameter):
        if exc.param is None:
            return "缺少必填的参数。"
        kind = "选项" if isinstance(exc.param, click.Option) else "参数"
        text = f"缺少{kind} {_label(exc.param)}。"
        if isinstance(exc.param.type, click.Choice):
            text += f"可以写：{_choices(exc.param.type)}。"
        return text
    if isinstance(exc, click.NoSuchOption):
        text = f"没有 {exc.option_name} 这个选项。"
        if exc.possibilities:
            text += f"是不是想写 {'、'.join(sorted(exc.possibilities))}？"
        return text
    if isinstance(exc, click.BadOptionUsage):
        option = _find_option(exc.ctx, exc.option_name)
        if option is not None and (option.is_flag or option.count):
            return f"{exc.option_name} 是开关，后面不能带值。"
        return f"{exc.option_name} 后面要写一个值。"
    if isinstance(exc, click.BadParameter):
        if exc.param_hint is not None:
            hint = exc.param_hint if isinstance(exc.param_hint, str) else " / ".join(exc.param_hint)
        elif exc.param is not None:
            hint = _label(exc.param)
        else:
            return f"值不对：{exc.message}"
        return f"{hint} 的值不对：{_bad_value_reason(exc)}。"
    if isinstance(exc, click.FileError):
        return f"无法打开文件 {exc.ui_filename}：{exc.message}"
    return exc.format_message()


def _find_option(ctx: click.Context | None, name: str) -> click.Option | None:
    if ctx is None:
        return None
    for param in ctx.command.get_params(ctx):
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def show_error(exc: click.ClickException) -> None:
    """Print a Click exception the way Click would (usage line, where to get
    help, the error), in Chinese, on stderr."""
    if isinstance(exc, NoArgsIsHelpError):  # a group run bare: its help is the answer
        exc.show()
        return
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        ctx = exc.ctx
        click.echo(ctx.get_usage(), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            click.echo(f"输入 {ctx.command_path} {ctx.help_option_names[0]} 查看帮助。", err=True)
        click.echo("", err=True)
    click.echo(f"错误：{error_message(exc)}", err=True)
