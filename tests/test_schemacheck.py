"""The quick schema check must never accept a file jsonschema refuses: it
only decides whether jsonschema is asked for the messages."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from fengqiao.metrics.contract import json_schema, schema_is_valid
from fengqiao.metrics.rollup import combine
from test_county_data import town_contract

MUTANTS: list[Any] = [None, True, 1, 1.5, -1, "", "x", [], {}, [1], {"a": 1}]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            out += _paths(v, (*path, i))
    return out


def _rollup() -> dict[str, Any]:
    parts = [town_contract(5, "东湖镇", "2024-Q1"), town_contract(6, "西山镇", "2024-Q1")]
    return combine(parts, name="示范市", level="市")


@pytest.mark.parametrize(("make", "mutants"),
                         [(lambda: town_contract(5, "东湖镇", "2024-Q1"), 400), (_rollup, 200)],
                         ids=["town", "summary roll-up"])
def test_the_quick_check_agrees_with_jsonschema_on_mutated_files(make: Any, mutants: int) -> None:
    contract = make()
    quick = schema_is_valid
    slow = Draft202012Validator(json_schema())
    assert quick(contract) and slow.is_valid(contract)
    rng = random.Random(7)
    paths = [p for p in _paths(contract) if p]
    for _ in range(mutants):
        path = rng.choice(paths)
        bad = copy.deepcopy(contract)
        parent = bad
        for part in path[:-1]:
            parent = parent[part]
        if rng.random() < 0.15 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(MUTANTS))
        assert quick(bad) == slow.is_valid(bad), path
