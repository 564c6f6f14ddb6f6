"""A corpus of hostile inputs, each built from scratch by the tests.

Every case is a file or folder a township office could plausibly hand the
kit: broken, disguised, enormous once unpacked, exported with odd settings,
or laid out ambiguously. ``tests/test_hostile_corpus.py`` runs every command
over each one and checks the promises that hold for all of them: no
traceback, a documented exit code, no hang, and no file outside the output
folder touched. What each case must produce in detail is tested where the
behaviour lives (test_sources_*, test_tabs, test_outdir ...); here the
corpus only says which exit code ``validate`` and ``metrics`` give.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl

HEADER = ["编号", "受理日期", "来源", "村(社区)", "纠纷类型", "当事人", "涉及人数", "星级",
          "调处层级", "状态", "首次调解成功", "办结日期"]


def rows(n: int = 6, *, start: int = 1) -> list[list[object]]:
    """Plain, valid dispute rows in Q1 2024: odd ones closed, even ones open."""
    out: list[list[object]] = []
    for i in range(start, start + n):
        closed = i % 2 == 1
        out.append([f"JF{i:03d}", f"2024-0{1 + i % 3}-{5 + i:02d}", "群众来访", "东岭村", "邻里",
                    "张三", 2, 1 + i % 2, "村级", "已化解" if closed else "调处中",
                    "是" if closed else None, f"2024-0{1 + i % 3}-{9 + i:02d}" if closed else None])
    return out


def workbook(sheets: dict[str, list[list[object]]], *, hidden: tuple[str, ...] = ()) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, data in sheets.items():
        ws = wb.create_sheet(name)
        for row in data:
            ws.append(row)
        if name in hidden:
            ws.sheet_state = "hidden"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def ledger_bytes() -> bytes:
    return workbook({"纠纷台账": [HEADER, *rows()]})


def _rezip(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """A copy of a zip with each member passed through ``change`` (None drops it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = change(info.filename, src.read(info.filename))
            if new is not None:
                dst.writestr(info.filename, new)
    return out.getvalue()


def _shared_strings_bomb(size: int = 1_500_000_000) -> bytes:
    """A small valid-looking workbook whose sharedStrings part unpacks to
    ``size`` bytes, written in chunks so building it stays cheap."""
    base = ledger_bytes()
    out = io.BytesIO()
    chunk = b"<si><t>" + b"A" * (1 << 20) + b"</t></si>"
    with zipfile.ZipFile(io.BytesIO(base)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if info.filename != "xl/sharedStrings.xml":
                dst.writestr(info.filename, src.read(info.filename))
        with dst.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                       b'spreadsheetml/2006/main">')
            for _ in range(size // len(chunk)):
                part.write(chunk)
            part.write(b"</sst>")
    return out.getvalue()


def _huge_dimension() -> bytes:
    def change(name: str, data: bytes) -> bytes:
        if name.startswith("xl/worksheets/sheet"):
            return data.replace(b'<dimension ref="A1:L7"/>', b'<dimension ref="A1:XFD1048576"/>')
        return data
    return _rezip(ledger_bytes(), change)


def _formula_without_value() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "纠纷台账"
    ws.append(HEADER)
    for row in rows():
        ws.append(row)
    ws["G3"] = "=1+1"  # 涉及人数 written by a script: no cached result
    ws["B4"] = "=DATE(2024,2,7)"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_STRICT = {
    b"http://schemas.openxmlformats.org/spreadsheetml/2006/main":
        b"http://purl.oclc.org/ooxml/spreadsheetml/main",
    b"http://schemas.openxmlformats.org/officeDocument/2006/relationships":
        b"http://purl.oclc.org/ooxml/officeDocument/relationships",
}


def _strict_ooxml() -> bytes:
    def change(name: str, data: bytes) -> bytes:
        if name.endswith(".xml") or name.endswith(".rels"):
            for old, new in _STRICT.items():
                data = data.replace(old, new)
        return data
    return _rezip(ledger_bytes(), change)


def _ods() -> bytes:
    """A minimal OpenDocument spreadsheet (what LibreOffice and WPS save)."""
    cells = []
    for row in [HEADER, *rows()]:
        tds = "".join(
            "<table:table-cell/>" if v is None else
            f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
            for v in row)
        cells.append(f"<table:table-row>{tds}</table:table-row>")
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="纠纷台账">'
        + "".join(cells) + "</table:table></office:spreadsheet></office:body></office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '</manifest:manifest>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        zf.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _csv(rows_: list[list[object]], sep: str = ",", *, encoding: str = "utf-8",
         first_line: str | None = None) -> bytes:
    lines = [] if first_line is None else [first_line]
    lines += [sep.join("" if v is None else str(v) for v in row) for row in rows_]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    """One hostile input: how to make it, and the exit codes ``validate``
    and ``metrics`` must give (0 clean, 1 findings, 2 unusable)."""

    name: str
    make: Callable[[Path], Path]
    validate: frozenset[int]
    metrics: frozenset[int]


def _file(name: str, data: Callable[[], bytes]) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        path = root / name
        path.write_bytes(data())
        return path
    return make


def _folder(files: dict[str, Callable[[], bytes]]) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        folder = root / "台账CSV"
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data())
        return folder
    return make


def _fifo(root: Path) -> Path:
    path = root / "x.xlsx"
    os.mkfifo(path)
    return path


def _symlink(target: str, name: str) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        path = root / name
        path.symlink_to(target)
        return path
    return make


def _dir_named_xlsx(root: Path) -> Path:
    path = root / "台账.xlsx"
    path.mkdir()
    (path / "说明.txt").write_text("不是工作簿", encoding="utf-8")
    return path


UNUSABLE = frozenset({2})
FINDINGS = frozenset({1})
CLEAN_OR_FINDINGS = frozenset({0, 1})
FIGURES = frozenset({0})

_DISPUTES = [HEADER, *rows()]
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: the ledger as a Hong Kong or Taiwan office would type it (Big5 has no simplified forms)
_TRADITIONAL = [["編號", "受理日期", "來源", "村(社區)", "糾紛類型", "當事人", "涉及人數", "星級",
                 "調處層級", "狀態", "首次調解成功", "辦結日期"],
                ["JF001", "2024-01-06", "群眾來訪", "東嶺村", "鄰里", "張三", 2, 1, "村級", "已化解",
                 "是", "2024-01-10"]]

CASES: list[Case] = [
    # -- files that are not a workbook at all
    Case("empty-xlsx", _file("空.xlsx", lambda: b""), UNUSABLE, UNUSABLE),
    Case("random-bytes-xlsx", _file("乱码.xlsx", lambda: bytes(range(256)) * 40), UNUSABLE, UNUSABLE),
    Case("truncated-xlsx", _file("截断.xlsx", lambda: ledger_bytes()[:3000]), UNUSABLE, UNUSABLE),
    Case("zip-of-text-as-xlsx", _file("压缩包.xlsx", lambda: _rezip(
        ledger_bytes(), lambda n, d: d if n == "[Content_Types].xml" else None)),
        UNUSABLE, UNUSABLE),
    Case("docx-renamed", _file("通知.xlsx", _docx), UNUSABLE, UNUSABLE),
    Case("old-xls", _file("旧表.xls", lambda: _OLE + b"\0" * 4000), UNUSABLE, UNUSABLE),
    Case("encrypted", _file("加密.xlsx", lambda: _OLE + b"\0" * 100
                            + "EncryptedPackage".encode("utf-16-le") + b"\0" * 100),
         UNUSABLE, UNUSABLE),
    Case("old-et-binary", _file("旧表.et", lambda: _OLE + b"\0" * 4000), UNUSABLE, UNUSABLE),
    Case("bad-workbook-xml", _file("坏结构.xlsx", lambda: _rezip(
        ledger_bytes(), lambda n, d: b"<workbook" if n == "xl/workbook.xml" else d)),
        UNUSABLE, UNUSABLE),
    Case("no-worksheets", _file("无表.xlsx", lambda: _rezip(
        ledger_bytes(), lambda n, d: None if n.startswith("xl/worksheets/") else d)),
        UNUSABLE, UNUSABLE),
    Case("unsupported-suffix", _file("台账.txt", lambda: "编号,受理日期\n".encode()),
         UNUSABLE, UNUSABLE),
    Case("missing-path", lambda root: root / "没有这个文件.xlsx", UNUSABLE, UNUSABLE),
    # -- files that are too big, or not files
    Case("shared-strings-bomb", _file("炸弹.xlsx", _shared_strings_bomb), UNUSABLE, UNUSABLE),
    Case("huge-dimension", _file("超大范围.xlsx", _huge_dimension), CLEAN_OR_FINDINGS | UNUSABLE,
         FIGURES | UNUSABLE),
    Case("fifo", _fifo, UNUSABLE, UNUSABLE),
    Case("symlink-to-dev-zero", _symlink("/dev/zero", "零.xlsx"), UNUSABLE, UNUSABLE),
    Case("symlink-to-dev-null", _symlink("/dev/null", "空设备.csv"), UNUSABLE, UNUSABLE),
    Case("dangling-symlink", _symlink("/nonexistent/台账.xlsx", "断链.xlsx"), UNUSABLE, UNUSABLE),
    Case("directory-named-xlsx", _dir_named_xlsx, UNUSABLE, UNUSABLE),
    # -- workbooks in other dresses
    Case("et-with-xlsx-content", _file("台账.et", ledger_bytes), CLEAN_OR_FINDINGS, FIGURES),
    Case("xlsm", _file("台账.xlsm", ledger_bytes), CLEAN_OR_FINDINGS, FIGURES),
    Case("xlsx-named-xls", _file("台账.xls", ledger_bytes), CLEAN_OR_FINDINGS, FIGURES),
    Case("ods", _file("台账.ods", _ods), CLEAN_OR_FINDINGS, FIGURES),
    Case("strict-ooxml", _file("严格.xlsx", _strict_ooxml), CLEAN_OR_FINDINGS | UNUSABLE,
         FIGURES | UNUSABLE),
    # -- workbooks whose content is hostile
    Case("formula-without-result", _file("公式.xlsx", _formula_without_value), FINDINGS, FIGURES),
    Case("hidden-stale-tab", _file("隐藏.xlsx", lambda: workbook(
        {"纠纷台账": [HEADER], "矛盾纠纷台账": _DISPUTES}, hidden=("纠纷台账",))),
        CLEAN_OR_FINDINGS, FIGURES),
    Case("two-visible-candidates", _file("两张.xlsx", lambda: workbook(
        {"纠纷台账": _DISPUTES, "纠纷台账 (2)": [HEADER, *rows(3)]})), FINDINGS, UNUSABLE),
    Case("no-disputes-tab", _file("无纠纷.xlsx", lambda: workbook(
        {"网格": [["网格编号", "村(社区)", "户数"], ["G1", "东岭村", 80]]})), FINDINGS, UNUSABLE),
    Case("star-header-missing", _file("缺星级.xlsx", lambda: workbook(
        {"纠纷台账": [[h if h != "星级" else "星级评定说明" for h in HEADER], *rows()]})),
        FINDINGS, UNUSABLE),
    Case("decorated-headers", _file("表头.xlsx", lambda: workbook(
        {"纠纷台账": [["*编号", "受理日期\n(必填)", "来源", "村(社区)", "纠纷类型", "当事人",
                      "涉及人数", "星级★", "调处层级", "状态", "首次调解成功", "办结日期"],
                     *rows()]})), CLEAN_OR_FINDINGS, FIGURES),
    Case("header-only", _file("只有表头.xlsx", lambda: workbook({"纠纷台账": [HEADER]})),
         CLEAN_OR_FINDINGS, FIGURES),
    Case("date-serials-out-of-range", _file("日期.xlsx", lambda: workbook(
        {"纠纷台账": [HEADER, *rows(), ["JF901", 106752, "群众来访", "东岭村", "邻里", "李四", 1, 1,
                                       "村级", "调处中", None, None],
                     ["JF902", -1e300, "群众来访", "东岭村", "邻里", "李四", 1, 1, "村级", "调处中",
                      None, None]]})), FINDINGS, FIGURES),
    Case("formula-errors", _file("错误值.xlsx", lambda: workbook(
        {"纠纷台账": [HEADER, *rows(), ["JF903", "#REF!", "群众来访", "东岭村", "邻里", "李四",
                                       "#DIV/0!", 1, "村级", "调处中", None, None]]})),
        FINDINGS, FIGURES),
    Case("huge-text-cell", _file("长文本.xlsx", lambda: workbook(
        {"纠纷台账": [HEADER, *rows(), ["JF904", "2024-02-01", "群众来访", "东岭村", "邻里",
                                       "王五 " * 6000, 1, 1, "村级", "调处中", None, None]]})),
        CLEAN_OR_FINDINGS, FIGURES),
    Case("duplicate-ids-and-blank-rows", _file("重复.xlsx", lambda: workbook(
        {"纠纷台账": [["某镇矛盾纠纷台账"], [], HEADER, *rows(3), [], [], *rows(3)]})),
        FINDINGS, FIGURES),
    Case("wide-sheet", _file("很宽.xlsx", lambda: workbook(
        {"纠纷台账": [HEADER + [f"列{i}" for i in range(2000)], *rows()]})),
        CLEAN_OR_FINDINGS, FIGURES),
    # -- CSV exports
    Case("csv-semicolon", _folder({"纠纷台账.csv": lambda: _csv(_DISPUTES, ";")}),
         CLEAN_OR_FINDINGS, FIGURES),
    Case("csv-tab", _folder({"纠纷台账.csv": lambda: _csv(_DISPUTES, "\t")}),
         CLEAN_OR_FINDINGS, FIGURES),
    Case("csv-pipe", _folder({"纠纷台账.csv": lambda: _csv(_DISPUTES, "|")}),
         CLEAN_OR_FINDINGS, FIGURES),
    Case("csv-sep-line", _folder({"纠纷台账.csv": lambda: _csv(_DISPUTES, ";", first_line="sep=;")}),
         CLEAN_OR_FINDINGS, FIGURES),
    Case("csv-utf16-tab", _folder({"纠纷台账.csv": lambda: b"\xff\xfe" + _csv(
        _DISPUTES, "\t", encoding="utf-16-le")}), CLEAN_OR_FINDINGS, FIGURES),
    Case("csv-gbk", _folder({"纠纷台账.csv": lambda: _csv(_DISPUTES, encoding="gbk")}),
         CLEAN_OR_FINDINGS, FIGURES),
    Case("csv-big5", _folder({"纠纷台账.csv": lambda: _csv(_TRADITIONAL, encoding="big5")}),
         CLEAN_OR_FINDINGS | UNUSABLE, FIGURES | UNUSABLE),
    Case("csv-binary-garbage", _folder({"纠纷台账.csv": lambda: bytes(range(256)) * 64}),
         FINDINGS | UNUSABLE, UNUSABLE),
    Case("csv-empty-file", _file("纠纷台账.csv", lambda: b""), UNUSABLE, UNUSABLE),
    Case("csv-empty-folder", _folder({}), UNUSABLE, UNUSABLE),
    Case("csv-ragged-and-nul", _folder({"纠纷台账.csv": lambda: _csv(_DISPUTES)
                                         + b"JF950,2024-03-01\r\n\x00\x00,,\r\n"}),
         FINDINGS, FIGURES),
    Case("corrupt-snapshot-json", _file("坏快照.json", lambda: b'{"sheets": [1, 2'),
         UNUSABLE, UNUSABLE),
    Case("corrupt-zip", _file("坏压缩包.zip", lambda: b"PK\x03\x04" + b"\0" * 50),
         UNUSABLE, UNUSABLE),
]
