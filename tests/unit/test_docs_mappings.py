"""docs/mappings.md cannot rot: every YAML example in it is validated, and every schema key is documented.

Conventions (stated in the document itself):

* a ```yaml block without a marker is a whole mapping file: it must load without errors;
* ``<!-- fragment: KEY -->`` before the fence: the block is the value of ``KEY`` (dotted path) and is
  validated inside a minimal mapping (``; record_type: NAME`` picks the route's record type);
* ``<!-- error: LINE PATH: TEXT -->`` before the fence: the block is a whole file that must produce an
  error at LINE and PATH whose message or hint contains TEXT.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from bridge.mapping import schema
from bridge.mapping.catalog import system_of
from bridge.mapping.checks import CHANNELS, DEFAULT_CHANNEL
from bridge.mapping.loader import load_mapping_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "mappings.md"
BLOCK = re.compile(r"(?:<!--\s*(?P<marker>[^>]*?)\s*-->\s*\n)?```yaml\n(?P<body>.*?)```", re.DOTALL)


def blocks() -> list[tuple[int, str, str]]:
    text = DOC.read_text(encoding="utf-8")
    return [
        (text[: m.start("body")].count("\n") + 1, m.group("marker") or "", m.group("body"))
        for m in BLOCK.finditer(text)
    ]


def minimal(record_type: str = "incident") -> dict[str, Any]:
    return {
        "name": "docs-fragment",
        "route": {"record_type": record_type},
        "target": {"project": "DEMO", "issue_type": "Bug"},
        "fields": {"summary": {"template": "{{ record.key }}"}},  # Jira creates nothing without one
    }


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        data = data.setdefault(key, {})
    data[keys[-1]] = value


def to_yaml(data: Any) -> str:
    import io

    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)
    return out.getvalue()


ALL_BLOCKS = blocks()


def test_the_reference_has_examples_of_each_kind() -> None:
    kinds = {marker.split(":")[0] for _, marker, _ in ALL_BLOCKS}
    assert {"", "fragment", "error"} <= kinds
    assert len(ALL_BLOCKS) >= 20


@pytest.mark.parametrize(("line", "marker", "body"), ALL_BLOCKS, ids=[f"line{b[0]}" for b in ALL_BLOCKS])
def test_yaml_example(line: int, marker: str, body: str) -> None:
    where = f"docs/mappings.md:{line}"
    if marker.startswith("error:"):
        spec = marker.removeprefix("error:").strip()
        match = re.fullmatch(r"(\d+) (\S+): (.+)", spec)
        assert match, f"{where}: bad error marker {marker!r}"
        expected_line, expected_path, fragment = int(match.group(1)), match.group(2), match.group(3)
        result = load_mapping_text(body, "doc.yaml")
        found = [
            p
            for p in result.errors
            if p.line == expected_line and p.path == expected_path and fragment in f"{p.message} {p.hint}"
        ]
        assert found, f"{where}: expected error not produced; got:\n" + "\n".join(map(str, result.problems))
        return
    if marker.startswith("fragment:"):
        parts = [p.strip() for p in marker.removeprefix("fragment:").split(";")]
        options = dict(p.split(":", 1) for p in parts[1:])
        data = minimal(options.get("record_type", "incident").strip())
        value = YAML(typ="safe", pure=True).load(body)
        if parts[0] == "fields" and isinstance(value, dict):
            value = {**data["fields"], **value}  # a fragment of other fields keeps the minimal summary
        set_path(data, parts[0], value)
        system = system_of(data["route"]["record_type"], data["route"].get("system"))
        if "comments" not in data and system != "servicenow":  # the defaults are ServiceNow's journals
            data["comments"] = {"to_itsm_channel": DEFAULT_CHANNEL[system],
                                "from_itsm_channels": [c.name for c in CHANNELS[system]]}
        result = load_mapping_text(to_yaml(data), f"{where} (fragment {parts[0]})")
    else:
        assert not marker, f"{where}: unknown marker {marker!r}"
        result = load_mapping_text(body, where)
    assert result.errors == [], "\n".join(map(str, result.errors))


def schema_models() -> list[type[BaseModel]]:
    return [
        obj
        for obj in vars(schema).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ == schema.__name__
        and not obj.__name__.startswith("_")
    ]


@pytest.mark.parametrize("model", schema_models(), ids=lambda m: m.__name__)
def test_every_schema_key_is_documented(model: type[BaseModel]) -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [info.alias or name for name, info in model.model_fields.items() if f"`{info.alias or name}`" not in text]
    assert missing == [], f"{model.__name__}: keys not documented in docs/mappings.md: {missing}"


def test_every_condition_operator_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert [op for op in schema.OPERATORS if f"`{op}`" not in text] == []
