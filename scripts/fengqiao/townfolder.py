"""``fengqiao init``: a town's working folder, ready for its first run.

A town starts from ``pip install fengqiao`` and one folder of its own: the
settings (``fengqiao.yml``, commented in Chinese), a copy of the procedure
pages to edit, a blank ledger workbook and a short Chinese README saying what
to do next. Every command run inside that folder finds the settings itself
(:func:`fengqiao.config.find_config`). The folder is assembled beside its
final place and renamed into it in one step, so a failure never leaves half
a folder, and an existing folder with anything in it is refused: fengqiao
never writes into a folder it did not make.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from .config import CONFIG_NAME, DEFAULTS_FILE, Config, load_config
from .errors import FengqiaoError
from .resources import DEFAULT_PAGES
from .townpages import record_pages

#: the ledger file a new folder gets when no other source is named
LEDGER_NAME = "台账.xlsx"
#: the blank workbook kept for reference when the ledger lives elsewhere
TEMPLATE_NAME = "台账模板.xlsx"
README_NAME = "使用说明.md"
PAGES_NAME = "site"

#: the demo town: its name, the day its data ends, its generator seed
DEMO_TOWN = "枫溪镇"
DEMO_REPORT_DATE = date(2024, 12, 31)
#: the demo ledger is complete from this day (examples/fengqiao.yml says the same)
DEMO_LEDGER_START = date(2023, 1, 1)
DEMO_SEED = 7


@dataclass(frozen=True)
class TownFolder:
    """What ``init`` made, for the command's summary."""

    folder: Path
    files: tuple[str, ...]
    ledger: str | None


def _scalar(text: str) -> str:
    """A YAML scalar that reads back as exactly ``text``: bare when it
    already does, double-quoted (JSON is valid YAML) when it would not."""
    try:
        if yaml.safe_load(text) == text and "#" not in text:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)


def _config_text(town: str, source: str, report_date: date | None,
                 ledger_start: date | None) -> str:
    report = (f"report_date: {report_date.isoformat()}\n" if report_date else
              "# report_date: 2024-12-31\n")
    start = (f"ledger_start: {ledger_start.isoformat()}\n" if ledger_start else
             "# ledger_start: 2024-01-01\n")
    return f"""\
# {town}的 fengqiao 设置。在本文件夹（或其下级文件夹）里运行 fengqiao 命令时，
# 会自动使用这个文件，不必再写 --config。
# 这里没有写的项（办结期限、考核目标、随访频次、接访定额等）使用 fengqiao 的默认值；
# 要改哪一项，就把它写在这里。全部可设置的项、说明和默认值见 fengqiao 自带的
#   {DEFAULTS_FILE}

# 乡镇名称：显示在网站标题、统计表和 metrics.json 里
town: {_scalar(town)}

# 台账在哪里：本文件夹里的 Excel/WPS 文件、CSV 文件夹，飞书表格（feishu:表格token，
# 或直接粘贴飞书表格的链接），或 Google 表格（gsheets:表格ID）。相对路径从本文件夹算起。
source: {_scalar(source)}

# 统计“截至哪一天”：不写则为今天。补算过去的月份时可以写上日期。
{report}
# 台账从哪一天起登记完整（之前的纠纷都已补录）。统计页的“上期”“上年同期”和同比
# 只比较这一天以后的时段，更早的显示“—”，因为分不清是没有纠纷还是没有登记。
# 不写则从台账里最早的受理日期算起。补录了往年的台账后，把这一天写上。
{start}
# 每次读取台账都会在这里留一份副本（带校验码），出问题时可以追查。
snapshots_dir: snapshots

site:
  title: {_scalar(town + "矛盾纠纷调处化解工作平台")}
  # 本镇自己的工作规程页面，可以直接修改 site/ 里的文件
  pages: {PAGES_NAME}
  # 网站上保留多少个月的月度统计
  months: 12

# 办结期限示例（天）：取消下面几行的 # 号并修改数字即可
# deadlines:
#   star_1: 5
#   star_2: 15
#   star_3: 60
"""


def _readme_text(town: str, ledger: str | None, source: str, demo: bool) -> str:
    if ledger:
        first = (f"1. 打开 `{ledger}`，在各个工作表里填写台账（第一张“填表说明”写明了每一列怎么填）。"
                 if not demo else f"1. `{ledger}` 是演示用的虚构台账，里面故意留了几处错误。")
    else:
        first = (f"1. 台账在 `{source}`。`{TEMPLATE_NAME}` 是空白模板，可以对照它检查表头。")
    return f"""\
# {town}台账工作文件夹

这个文件夹由 `fengqiao init` 建立。在这里（或下级文件夹里）运行 fengqiao 命令，
会自动使用本文件夹的设置文件 `{CONFIG_NAME}`。

## 接下来怎么做

{first}
2. 检查台账：`fengqiao validate`。每处错误都会写明在哪个工作表、哪一格，以及怎么改。
   想在表格里直接看到标记，可以用 `fengqiao validate --annotate 检查结果.xlsx`，原台账不会被改动。
3. 看本季度的统计数字：`fengqiao metrics --period 2024-Q4`（季度写成 2024-Q4，月份写成 2024-12）。
4. 生成内部网站：`fengqiao build --out public`，把 `public` 文件夹复制到内网服务器或共享文件夹即可，
   直接双击其中的 index.html 也能离线打开。
5. 边改工作规程边预览：`fengqiao serve`，然后在浏览器里打开 http://127.0.0.1:8000 。

## 文件夹里有什么

- `{CONFIG_NAME}`：本镇的设置（乡镇名称、台账位置、办结期限、考核目标等），每一项都有说明。
- `{PAGES_NAME}/`：网站上的工作规程页面，可以按本镇的做法修改；页面里 `{{{{ … }}}}` 的部分会自动填入设置里的数字。fengqiao 升级以后，运行 `fengqiao pages refresh` 把新版页面更新进来：没改过的页面换成新版，新增的页面加进来，改过的页面保持不动。
- `snapshots/`：每次读取台账时留下的副本，用于追查；里面有个人信息，请不要外传。

台账里的当事人姓名、电话、简要情况等个人信息不会出现在网站和统计文件里。
"""


def _refuse_existing(folder: Path) -> None:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise FengqiaoError(f"{folder} 已经存在，并且不是文件夹。",
                            hint="请换一个新的文件夹名。")
    if folder.is_dir() and any(folder.iterdir()):
        raise FengqiaoError(f"文件夹 {folder} 里已经有文件，fengqiao 不会往里面写。",
                            hint="请换一个新的文件夹名，或指定一个空文件夹。")


def _write_ledger(path: Path, config: Config, *, demo: bool) -> None:
    if demo:
        from .demo import generate_town, write_workbook

        write_workbook(generate_town(DEMO_SEED, town=config.town), path)
        return
    from .template import write_template

    write_template(path, config=config)


def create_town_folder(folder: Path, *, town: str, source: str | None = None,
                       demo: bool = False) -> TownFolder:
    """Make ``folder`` a town folder; refuses one that already holds anything."""
    folder = folder.expanduser()
    _refuse_existing(folder)
    if demo and source:
        raise FengqiaoError("--demo 和 --source 只能用一个：演示文件夹使用自带的演示台账。")
    town = town.strip()
    if not town:
        raise FengqiaoError("乡镇名称不能为空。", hint="请用 --town 写上本镇的名称，例如 --town 枫溪镇。")
    ledger = None if source else LEDGER_NAME
    source_text = source.strip() if source else LEDGER_NAME
    parent = folder.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fengqiao-init-", dir=parent))
    except OSError as exc:
        raise FengqiaoError(f"无法在 {parent} 里建立文件夹：{exc.strerror or exc}。",
                            hint="请确认这个位置可以写入。") from exc
    try:
        (staging / CONFIG_NAME).write_text(
            _config_text(town, source_text, DEMO_REPORT_DATE if demo else None,
                         DEMO_LEDGER_START if demo else None), encoding="utf-8")
        # the file just written must load as written (a bad value is refused
        # here, not at the town's first command); the template reads it too
        config = load_config(staging / CONFIG_NAME)
        shutil.copytree(DEFAULT_PAGES, staging / PAGES_NAME,
                        ignore=shutil.ignore_patterns("__pycache__", ".*"))
        record_pages(staging / PAGES_NAME)  # so `fengqiao pages refresh` knows what was copied
        _write_ledger(staging / (ledger or TEMPLATE_NAME), config, demo=demo)
        (staging / README_NAME).write_text(_readme_text(town, ledger, source_text, demo),
                                           encoding="utf-8")
        files = tuple(sorted(p.relative_to(staging).as_posix()
                             for p in staging.iterdir()))
        if folder.is_dir():
            folder.rmdir()  # empty, checked above
        os.replace(staging, folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise FengqiaoError(f"无法建立文件夹 {folder}：{exc.strerror or exc}。",
                            hint="请确认这个位置可以写入，并且磁盘还有空间。") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return TownFolder(folder=folder, files=files, ledger=ledger)


__all__ = ["DEMO_REPORT_DATE", "DEMO_TOWN", "LEDGER_NAME", "PAGES_NAME", "README_NAME",
           "TEMPLATE_NAME", "TownFolder", "create_town_folder"]
