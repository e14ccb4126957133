"""Load mapping files and report every problem with the file, line, column and a fix.

An admin edits YAML, not pydantic models, so every error must point at the YAML: the loader parses with
:mod:`bridge.yamlpos` (which keeps each node's line and column), validates the plain data with the schema, and walks
each pydantic error location back to the node it names. Union branches that do not fit the value (a
string tried against a model, a model tried against a string) are dropped, so one mistake is one message.

Problems carry a hint: the nearest valid key for a typo, the allowed values for a fixed choice, a sample
for a missing key, the expected type. Semantic checks (:mod:`bridge.mapping.checks`) run on each file that
passes the schema, and across files (duplicate names, overlapping routes).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bridge import yamlpos
from bridge.errors import MappingError, MappingProblem
from bridge.mapping.schema import Mapping
from bridge.yamlpos import MAX_NODES, Marks, PathKey, dotted

MAPPING_SUFFIXES = (".yaml", ".yml")
EXTENSION_PREFIX = "x-"
"""Top-level keys with this prefix are ignored: a place for YAML anchors shared within the file."""


# ----------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LoadedMapping:
    """A mapping that passed validation, and the file it came from."""

    mapping: Mapping
    path: Path
    marks: Marks | None = field(default=None, compare=False, repr=False)
    """Where each key of the file is, for problems found after loading (cross-file checks, the engine)."""


@dataclass
class LoadResult:
    """What loading found: the valid mappings and every problem (errors and warnings), in file order."""

    mappings: list[LoadedMapping] = field(default_factory=list)
    problems: list[MappingProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[MappingProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[MappingProblem]:
        return [p for p in self.problems if p.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


# ------------------------------------------------------------------------------------------ parsing


def _duplicate_path(text: str, exc: MarkedYAMLError) -> str:
    """The dotted path of a duplicated key: re-parse leniently and find the mapping the error names."""
    match = re.search(r'duplicate key "(.*)" with value', exc.problem or "")
    key = match.group(1) if match else ""
    if exc.context_mark is None:
        return key
    try:
        tree = yamlpos.parse(text, allow_duplicate_keys=True)
    except YAMLError:
        return key
    if not isinstance(tree, CommentedMap):
        return key
    try:
        data, marks = yamlpos.to_plain(tree)
    except (yamlpos.TooLarge, RecursionError):
        return key
    where = (exc.context_mark.line + 1, exc.context_mark.column + 1)
    best: PathKey = ()
    for path, mark in marks.items():
        if (mark.line, mark.column) == where and isinstance(_at(data, path), dict) and len(path) >= len(best):
            best = path
    return dotted((*best, key))


def _at(data: Any, path: PathKey) -> Any:
    for elem in path:
        if isinstance(data, dict):
            data = next((v for k, v in data.items() if str(k) == str(elem)), None)
        elif isinstance(data, list) and isinstance(elem, int) and elem < len(data):
            data = data[elem]
        else:
            return None
    return data


def _yaml_problem(file: str, exc: YAMLError, text: str) -> MappingProblem:
    if isinstance(exc, yamlpos.InputBoundError):
        mark = exc.problem_mark
        return MappingProblem(file, mark.line + 1, mark.column + 1, "", str(exc.problem), exc.hint)
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "invalid YAML"
        hint = None
        path = ""
        if "duplicate key" in problem:
            path = _duplicate_path(text, exc)
            key = path.rsplit(".", 1)[-1]
            return MappingProblem(
                file, mark.line + 1, mark.column + 1, path, f"duplicate key `{key}`",
                "each key may appear once in a mapping; merge the two entries or remove one",
            )
        elif exc.context:
            hint = f"{exc.context}" + (
                f" (line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})" if exc.context_mark else ""
            )
        return MappingProblem(file, mark.line + 1, mark.column + 1, path, f"YAML syntax error: {problem}", hint)
    return MappingProblem(file, 1, 1, "", f"YAML syntax error: {exc}")


def parse_yaml(text: str, file: str) -> tuple[Any, Marks] | MappingProblem:
    """Parse one YAML document into plain values plus marks; a syntax error becomes a problem."""
    try:
        tree = yamlpos.parse(text)
    except YAMLError as exc:
        return _yaml_problem(file, exc, text)
    if tree is None:
        return MappingProblem(file, 1, 1, "", "the file is empty", "a mapping needs at least name, route and target")
    if not isinstance(tree, CommentedMap):
        found = "a list" if isinstance(tree, CommentedSeq) else "a single value"
        return MappingProblem(
            file, 1, 1, "", f"a mapping file holds one YAML mapping (key: value lines), not {found}",
            "start with `name:`, `route:` and `target:` lines; see docs/mappings.md",
        )
    try:
        return yamlpos.to_plain(tree)
    except (yamlpos.TooLarge, RecursionError):
        return MappingProblem(
            file, 1, 1, "", f"the file expands to more than {MAX_NODES} values",
            "YAML aliases (*name) that repeat large blocks multiply; a mapping needs a few hundred values at most",
        )


# ------------------------------------------------------------------------------- error translation

_MISSING = object()


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` so the walk sees the real shape."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        args = typing.get_args(tp)
        if _is_union(tp):
            members = [a for a in args if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _members(tp: Any) -> list[Any]:
    return [a for a in typing.get_args(tp) if a is not type(None)]


def _tag(member: Any) -> str:
    if typing.get_origin(member) is typing.Annotated:
        for meta in typing.get_args(member)[1:]:
            tag = getattr(meta, "tag", None)
            if isinstance(tag, str):
                return tag
        member = typing.get_args(member)[0]
    if isinstance(member, type):
        return member.__name__
    return str(member).replace("typing.", "")


def _kind(tp: Any) -> str:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "dict"
    origin = typing.get_origin(tp)
    if origin is dict:
        return "dict"
    if origin is list:
        return "list"
    if _is_union(tp):
        return "union"
    return "scalar"


def _data_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _model_field(model: type[BaseModel], key: str) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name, info
    return None


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


_TYPE_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}


def describe_type(tp: Any) -> str:
    """Plain words for a schema type, for the "expected …" hint."""
    tp = _unwrap(tp)
    if tp in _TYPE_WORDS:
        return _TYPE_WORDS[tp]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"a mapping with keys {', '.join(_keys(tp))}"
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {_plural(describe_type(typing.get_args(tp)[0]))}"
    if origin is dict:
        return f"a mapping of names to {_plural(describe_type(typing.get_args(tp)[1]))}"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if _is_union(tp):
        words: list[str] = []
        for member in _members(tp):
            word = describe_type(member)
            if word not in words:
                words.append(word)
        return " or ".join(words)
    return getattr(tp, "__name__", str(tp))


def _plural(words: str) -> str:
    for article in ("a ", "an "):
        if words.startswith(article):
            return words[len(article) :] + ("" if words.endswith("s") else "s")
    return words


@dataclass
class _Located:
    path: tuple[str | int, ...]
    node: Any
    parent_type: Any
    value_type: Any
    union_type: Any = None
    """The union the value was tried against, when the location went through one."""


def _locate(loc: tuple[str | int, ...], data: Any) -> _Located | None:
    """Walk a pydantic location through the schema and the data together.

    Returns ``None`` when the location goes through a union member that does not fit the data (its
    errors are noise: the value was never meant to be that member).
    """
    tp: Any = Mapping
    parent_type: Any = None
    node: Any = data
    path: list[str | int] = []
    union_type: Any = None
    for elem in loc:
        tp = _unwrap(tp)
        if _is_union(tp):
            members = _members(tp)
            member = next((m for m in members if _tag(m) == str(elem)), None)
            if member is not None:
                kinds = {_kind(m) for m in members}
                wanted = _data_kind(node)
                if wanted in kinds and _kind(member) != wanted:
                    return None
                union_type = tp
                tp = member
                continue
        parent_type = tp
        union_type = None
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            found = _model_field(tp, str(elem))
            tp = found[1].annotation if found else Any
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        else:
            tp = Any
        if isinstance(node, dict):
            match = next((k for k in node if str(k) == str(elem)), _MISSING)
            node = node[match] if match is not _MISSING else _MISSING
            path.append(str(elem))
        elif isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            node = node[elem]
            path.append(elem)
        else:
            node = _MISSING
            path.append(elem)
    return _Located(tuple(path), node, parent_type, tp, union_type)


def _sample(parent: Any, key: str) -> str:
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        found = _model_field(parent, key)
        if found and found[1].examples:
            return f"{key}: {found[1].examples[0]}"
        if found:
            return f"{key}: <{describe_type(found[1].annotation)}>"
    return f"{key}: …"


_PATTERN_HINTS = {
    "project": "Jira project keys are upper-case letters, digits and `_`, starting with a letter, e.g. DEMO",
    "name": "mapping names are lower-case letters, digits, `.`, `_` and `-`, e.g. incident-to-bug",
}


def _translate(err: Any, data: Any, marks: Marks, file: str) -> MappingProblem | None:
    located = _locate(tuple(err["loc"]), data)
    if located is None:
        return None
    kind = err["type"]
    path = located.path
    ctx = err.get("ctx") or {}
    hint: str | None = None
    if kind == "missing":
        key = str(path[-1]) if path else ""
        mark = marks.get(path[:-1])
        message = f"missing required key `{key}`"
        hint = f"add `{_sample(located.parent_type, key)}`"
        return MappingProblem(file, mark.key_line, mark.key_column, dotted(path), message, hint)
    if kind == "extra_forbidden":
        key = str(path[-1])
        mark = marks.get(path)
        parent = located.parent_type
        allowed = _keys(parent) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        message = f"unknown key `{key}`"
        hint = (f"did you mean `{close[0]}`? " if close else "") + (
            f"valid keys here: {', '.join(allowed)}" if allowed else ""
        )
        return MappingProblem(file, mark.key_line, mark.key_column, dotted(path), message, hint.strip() or None)
    mark = marks.get(path)
    at_value = not isinstance(located.node, dict | list)
    line, column = (mark.line, mark.column) if at_value else (mark.key_line, mark.key_column)
    if kind == "mapping_rule":
        message = str(ctx.get("message", err["msg"]))
        hint = ctx.get("hint") or None
    elif kind == "literal_error":
        allowed = [a for a in typing.get_args(_unwrap(located.value_type))] or []
        message = f"`{located.node}` is not allowed here"
        close = difflib.get_close_matches(str(located.node), [str(a) for a in allowed], n=1, cutoff=0.5)
        hint = (f"did you mean `{close[0]}`? " if close else "") + f"allowed values: {ctx.get('expected', allowed)}"
    elif kind == "string_pattern_mismatch":
        message = f"`{located.node}` does not match the pattern {ctx.get('pattern')}"
        hint = _PATTERN_HINTS.get(str(path[-1]) if path else "")
    elif kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
    else:
        message = str(err["msg"])
        if kind.endswith(("_type", "_parsing")) or kind in {"model_type", "model_attributes_type"}:
            shown = located.node if at_value else type(located.node).__name__
            message = f"{message} (got {shown!r})"
            hint = f"expected {describe_type(located.union_type or located.value_type)}"
    return MappingProblem(file, line, column, dotted(path), message, hint)


def _merge_type_errors(problems: list[MappingProblem]) -> list[MappingProblem]:
    """Several union members failing on one value is one problem: keep the first message per path."""
    seen: set[tuple[str, int, int]] = set()
    merged = []
    for problem in problems:
        key = (problem.path, problem.line, problem.column)
        if key in seen:
            continue
        seen.add(key)
        merged.append(problem)
    return merged


def validation_problems(exc: ValidationError, data: Any, marks: Marks, file: str) -> list[MappingProblem]:
    """Every pydantic error of one file as a located problem, union noise removed."""
    problems = [p for p in (_translate(err, data, marks, file) for err in exc.errors()) if p is not None]
    if not problems:  # never lose an error because every branch looked like noise
        problems = [MappingProblem(file, 1, 1, "", str(exc))]
    return _merge_type_errors(problems)


# ------------------------------------------------------------------------------------------ loading


def load_mapping_text(text: str, file: str) -> LoadResult:
    """Validate one mapping given as text; ``file`` is the name used in problems."""
    from bridge.mapping.checks import check_despite_schema_errors, check_mapping

    result = LoadResult()
    parsed = parse_yaml(text, file)
    if isinstance(parsed, MappingProblem):
        result.problems.append(parsed)
        return result
    data, marks = parsed
    # Top-level `x-…` keys hold YAML anchors to reuse (`x-close: &close {...}`), as in Compose files.
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        result.problems.extend(validation_problems(exc, data, marks, file))
        result.problems.extend(check_despite_schema_errors(data, exc, marks, file))
        return result
    problems = check_mapping(mapping, marks, file)
    result.problems.extend(problems)
    if not any(p.severity == "error" for p in problems):
        result.mappings.append(LoadedMapping(mapping, Path(file), marks))
    return result


def load_mapping_file(path: Path) -> LoadResult:
    """Load and validate one mapping file."""
    path = Path(path)
    try:
        yamlpos.check_size(path.stat().st_size)  # before reading: a 50 MB file is refused, not loaded
        text = path.read_text(encoding="utf-8")
    except yamlpos.InputBoundError as exc:
        return LoadResult(problems=[MappingProblem(str(path), 1, 1, "", str(exc.problem), exc.hint)])
    except (OSError, UnicodeDecodeError) as exc:
        return LoadResult(problems=[MappingProblem(str(path), 1, 1, "", f"cannot read the file: {exc}")])
    result = load_mapping_text(text, str(path))
    result.mappings = [LoadedMapping(m.mapping, path, m.marks) for m in result.mappings]
    return result


def mapping_files(directory: Path) -> list[Path]:
    """The mapping files of ``directory`` (``*.yaml``, ``*.yml``; hidden files skipped), sorted by name."""
    found = (p for p in Path(directory).iterdir() if p.suffix in MAPPING_SUFFIXES and not p.name.startswith("."))
    return sorted(p for p in found if p.is_file())


def load_mappings(directory: Path) -> LoadResult:
    """Load every mapping file in ``directory`` and run the cross-file checks."""
    from bridge.mapping.checks_across import check_across

    directory = Path(directory)
    result = LoadResult()
    if not directory.is_dir():
        result.problems.append(
            MappingProblem(str(directory), 1, 1, "", "the mappings directory does not exist or is not a directory")
        )
        return result
    files = mapping_files(directory)
    if not files:
        result.problems.append(
            MappingProblem(
                str(directory), 1, 1, "", "no mapping files (*.yaml, *.yml) found", "see docs/mappings.md for examples",
                severity="warning",
            )
        )
    for path in files:
        loaded = load_mapping_file(path)
        result.problems.extend(loaded.problems)
        result.mappings.extend(loaded.mappings)
    across = check_across(result.mappings)
    result.problems.extend(across)
    failing = {p.file for p in across if p.severity == "error"}
    result.mappings = [m for m in result.mappings if str(m.path) not in failing]
    return result


def load_or_raise(directory: Path) -> list[Mapping]:
    """The mappings of ``directory``; :class:`MappingError` with every problem when any is an error."""
    result = load_mappings(directory)
    if result.errors:
        raise MappingError(result.problems)
    return [m.mapping for m in result.mappings]
