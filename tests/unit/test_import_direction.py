"""The direction of imports between bridge's layers (docs/architecture.md, "Layers").

A wrong arrow is how a package cycle starts: the store learning about actions, a connector reading
the state store, a command reaching back into the CLI module that registers it, the pure planner
importing something that does I/O. This test reads every module's imports (also those inside
functions and ``TYPE_CHECKING`` blocks: a function-local import still couples the two packages)
and fails on any arrow listed as forbidden below.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bridge"

#: (importer prefix, imported prefix, why it is forbidden)
FORBIDDEN: list[tuple[str, str, str]] = [
    ("bridge.store", "bridge.sync", "the store writes effects as data; it must not know actions or the planner"),
    ("bridge.store", "bridge.connectors", "the store is the only SQL and knows nothing of HTTP"),
    ("bridge.connectors", "bridge.store", "connectors speak HTTP only; state belongs to the engine"),
    ("bridge.connectors", "bridge.sync", "connectors implement the port; the engine drives them"),
    ("bridge.commands", "bridge.cli", "commands are registered by the CLI, never the other way round"),
    ("bridge.metrics", "bridge.connectors", "metrics count calls through bridge.callcount, not the port"),
    ("bridge.vendors", "bridge.connectors", "vendor facts are data the connectors read"),
    ("bridge.vendors", "bridge.sandbox", "vendor facts are data the sandboxes read"),
    ("bridge.vendors", "bridge.store", "vendor facts are data"),
    ("bridge.vendors", "bridge.sync", "vendor facts are data"),
    ("bridge.mapping", "bridge.sync", "mappings are data the engine reads"),
    ("bridge.mapping", "bridge.store", "mappings are data the engine reads"),
    ("bridge.mapping", "bridge.connectors", "mappings are data the connectors read"),
    ("bridge.model", "bridge.sync", "the model is the bottom layer"),
    ("bridge.sandbox", "bridge.sync", "the sandboxes fake vendors; they know nothing of bridge's engine"),
    ("bridge.sandbox", "bridge.store", "the sandboxes fake vendors; they know nothing of bridge's state"),
]

#: modules the pure planner may import (prefixes): no I/O, no clock, no database
PLANNER_MODULES = (
    "bridge.sync.planner", "bridge.sync.plan_views", "bridge.sync.plan_adoption", "bridge.sync.plan_attachments",
    "bridge.sync.plan_route_exit", "bridge.sync.recount", "bridge.sync.plan_comments_rules",
    "bridge.sync.plan_people",
)
PLANNER_FORBIDDEN = (
    "bridge.store",
    "bridge.connectors",
    "bridge.sandbox",
    "bridge.daemon",
    "bridge.metrics",
    "bridge.bootstrap",
    "bridge.commands",
    "bridge.cli",
    "requests",
    "sqlalchemy",
    "socket",
    "http",
    "urllib",
    "time",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str | None = None) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@functools.cache
def _all_imports() -> dict[str, set[str]]:
    """Every module's imports, read once per test session (the parametrised cases share it)."""
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_scan_sees_the_package() -> None:
    graph = _all_imports()
    assert "bridge.sync.planner" in graph
    assert any(_under(name, "bridge.model") for name in graph["bridge.sync.planner"])


@pytest.mark.parametrize(("importer", "imported", "why"), FORBIDDEN, ids=[f"{a}->{b}" for a, b, _ in FORBIDDEN])
def test_no_arrow_goes_the_wrong_way(importer: str, imported: str, why: str) -> None:
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in _all_imports().items()
        if _under(module, importer)
        for name in names
        if _under(name, imported)
    )
    assert not wrong, f"{importer} must not import {imported} ({why}):\n" + "\n".join(wrong)


def test_the_planner_imports_nothing_with_io() -> None:
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in _all_imports().items()
        if any(_under(module, p) for p in PLANNER_MODULES)
        for name in names
        if any(_under(name, f) for f in PLANNER_FORBIDDEN)
    )
    assert not wrong, "the planner is pure (no network, clock or database):\n" + "\n".join(wrong)


def test_the_scan_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    """The scan must see imports inside functions and relative ones, or it would pass vacuously."""
    module = tmp_path / "store.py"
    module.write_text("def f():\n    from bridge.sync import actions\n    from .locks import Lock\n")
    found = _imports(module, "bridge.store.store")
    assert "bridge.sync.actions" in found
    assert "bridge.store.locks.Lock" in found
