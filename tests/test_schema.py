"""sheets_schema/ loading: the foreign keys, with the finding code each gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fengqiao.errors import CATALOGUE, FengqiaoError
from fengqiao.schema import load_schema


def schema_copy(tmp_path: Path, old: str, new: str) -> Path:
    """sheets_schema/ copied with one edit to disputes.yml."""
    folder = tmp_path / "sheets_schema"
    shutil.copytree(load_schema().directory, folder)
    path = folder / "disputes.yml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return folder


def test_every_foreign_key_names_a_catalogued_code() -> None:
    keys = [(tab.name, fk.field, fk.resource, fk.reference_field, fk.code, fk.self_code)
            for tab in load_schema() for fk in tab.foreign_keys]
    assert ("disputes", "repeat_of", "disputes", "id", "unknown-repeat", "self-repeat") in keys
    assert ("key_person_visits", "person_id", "key_persons", "person_id", "unknown-person",
            None) in keys
    assert all(k[4] in CATALOGUE and CATALOGUE[k[4]].level == "cross" for k in keys)


def test_a_foreign_key_without_a_code_is_refused(tmp_path: Path) -> None:
    folder = schema_copy(tmp_path, "    code: unknown-grid\n", "")
    with pytest.raises(FengqiaoError) as err:
        load_schema(folder)
    assert str(err.value) == (
        f"表结构文件 {folder / 'disputes.yml'} 中 grid_id 的 foreignKeys 缺少 code。"
        "code 是值在被引用的表里找不到时报告的问题代码，例如 unknown-grid。")


def test_a_foreign_key_code_outside_the_catalogue_is_refused(tmp_path: Path) -> None:
    folder = schema_copy(tmp_path, "    code: unknown-grid\n", "    code: no-such-grid\n")
    with pytest.raises(FengqiaoError) as err:
        load_schema(folder)
    assert str(err.value) == (
        f"表结构文件 {folder / 'disputes.yml'} 中 grid_id 的 foreignKeys 的 code “no-such-grid”"
        "不在问题目录里。请写 errors.py 的 CATALOGUE 里已有的问题代码，例如 unknown-grid。")


def test_self_code_only_on_a_reference_into_the_same_tab(tmp_path: Path) -> None:
    folder = schema_copy(tmp_path, "    code: unknown-grid\n",
                         "    code: unknown-grid\n    selfCode: self-repeat\n")
    with pytest.raises(FengqiaoError, match="grid_id 的 selfCode 只适用于引用本表的 foreignKeys"):
        load_schema(folder)
