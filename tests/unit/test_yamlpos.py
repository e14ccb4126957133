"""bridge.yamlpos: plain values with the position of every node, shared by settings and mapping files."""

from __future__ import annotations

import datetime

import pytest
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import DuplicateKeyError

from bridge import yamlpos
from bridge.yamlpos import Mark, dotted

TEXT = """\
name: demo
route:
  where:
    all:
      - state: 1
      - lte: 2026-03-01
  note: |
    two
    lines
1: numeric key
"""


def tree(text: str = TEXT) -> CommentedMap:
    parsed = yamlpos.parse(text)
    assert isinstance(parsed, CommentedMap)
    return parsed


def test_plain_values_and_marks() -> None:
    data, marks = yamlpos.to_plain(tree())
    assert data == {
        "name": "demo",
        "route": {"where": {"all": [{"state": 1}, {"lte": "2026-03-01"}]}, "note": "two\nlines\n"},
        1: "numeric key",
    }
    assert marks.get(("name",)) == Mark(1, 7, 1, 1)
    assert marks.get(("route", "where", "all", 1)) == Mark(6, 9, 6, 9)
    assert marks.get(("route", "where", "all", 1, "lte")) == Mark(6, 14, 6, 9)
    assert marks.get(("route", "note")).block_scalar
    assert ("1",) in marks


def test_nearest_present_ancestor() -> None:
    _, marks = yamlpos.to_plain(tree())
    assert marks.nearest(("route", "where", "missing", "deeper")) == (("route", "where"), Mark(4, 5, 3, 3))
    assert marks.nearest(("nowhere",))[0] == ()


def test_settings_flavour_keeps_keys_as_text_and_dates_as_dates() -> None:
    data, _ = yamlpos.to_plain(tree(), text_keys=True, tagged_as_text=False)
    assert "1" in data
    assert data["route"]["where"]["all"][1]["lte"] == datetime.date(2026, 3, 1)


def test_alias_bomb_stops_at_max_nodes() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(5)]
    with pytest.raises(yamlpos.TooLarge):
        yamlpos.to_plain(tree("\n".join(levels)))


def test_duplicate_keys_only_when_allowed() -> None:
    with pytest.raises(DuplicateKeyError):
        yamlpos.parse("a: 1\na: 2\n")
    assert yamlpos.parse("a: 1\na: 2\n", allow_duplicate_keys=True) == {"a": 1}  # the first one wins


def test_dotted() -> None:
    assert dotted(("route", "where", "all", 1, "lte")) == "route.where.all[1].lte"
    assert dotted(()) == ""
