"""YAML that remembers where each value was written, for errors that point at the file.

People edit the config file and the mapping files, not the models they are validated into, so every
problem must name the line (and column) to fix. This module parses with ruamel.yaml's round-trip loader,
which keeps the position of every node, turns the tree into plain Python values for pydantic, and records
each node's position by its path (dict keys as ``str``, list indices as ``int``) in :class:`Marks`.
A validation error's location is such a path, so :meth:`Marks.get` finds the line to report.

Used by :mod:`bridge.settings` and :mod:`bridge.mapping.loader`; each formats its own problems.

Both files are input a person (or an attacker with write access to a mapping repository) controls, so
:func:`parse` bounds it before ruamel builds anything: :data:`MAX_FILE_BYTES`, :data:`MAX_DEPTH` levels
of nesting (ruamel composes recursively, and its scanner is quadratic in flow nesting), no explicit tags
(``!!python/object/apply:…`` and friends: neither file has a use for one) and, in :func:`to_plain`,
:data:`MAX_NODES` values after aliases are expanded. Each is an :class:`InputBoundError`, a
``MarkedYAMLError`` with the line and column, so callers report it like a syntax error (exit code 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import FileMark, MarkedYAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent, NodeEvent
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

PathKey = tuple[str | int, ...]
"""Where a node is in a document: the keys and list indices leading to it from the root."""

MAX_NODES = 50_000
"""More nodes than any real config or mapping file has: beyond it the file is an alias bomb ("billion laughs")."""


MAX_FILE_BYTES = 1_000_000
"""Largest config or mapping file read: real ones are a few kilobytes."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists: real files nest fewer than ten levels."""


class InputBoundError(MarkedYAMLError):
    """The text breaks one of the input bounds; ``problem`` says which, ``problem_mark`` where."""

    def __init__(self, problem: str, line: int = 0, column: int = 0, hint: str | None = None) -> None:
        super().__init__(problem=problem, problem_mark=FileMark("<yaml>", 0, line, column), note=hint)
        self.hint = hint


class TooLarge(Exception):
    """The document expands to more than :data:`MAX_NODES` values (aliases repeating large blocks)."""


@dataclass(frozen=True)
class Mark:
    """Where a node is, 1-based: the value's position and the position of the key that holds it."""

    line: int
    column: int
    key_line: int
    key_column: int
    block_scalar: bool = False
    """True for ``|``/``>`` scalars, whose text starts on the line after the mark."""


class Marks:
    """Positions of every node of one YAML document, by path (dict keys as ``str``, list indices as int)."""

    def __init__(self, root: Mark) -> None:
        self._marks: dict[PathKey, Mark] = {(): root}
        self.count = 0

    def add(self, path: PathKey, mark: Mark) -> None:
        self._marks[path] = mark

    def nearest(self, path: PathKey) -> tuple[PathKey, Mark]:
        """The longest prefix of ``path`` present in the document (``()``, the root, at worst) and its mark.

        A validation error may name a key the file does not have (a missing setting): the nearest
        present ancestor is the place to add it.
        """
        while path not in self._marks:
            path = path[:-1]
        return path, self._marks[path]

    def get(self, path: PathKey) -> Mark:
        """The mark of ``path``, or of its nearest ancestor that has one."""
        return self.nearest(path)[1]

    def __contains__(self, path: PathKey) -> bool:
        return path in self._marks

    def items(self) -> Iterable[tuple[PathKey, Mark]]:
        return self._marks.items()


def parse(text: str, *, allow_duplicate_keys: bool = False) -> object:
    """The round-trip tree of one YAML document (``None`` when empty).

    Raises :class:`InputBoundError` for text outside the bounds (see the module docstring), else ruamel's
    ``YAMLError`` for invalid YAML.
    """
    check_bounds(text)
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = allow_duplicate_keys
    return yaml.load(text)


def check_size(size: int) -> None:
    """:class:`InputBoundError` when a file of ``size`` bytes is too large to read."""
    if size > MAX_FILE_BYTES:
        raise InputBoundError(
            f"the file is {size} bytes; the limit is {MAX_FILE_BYTES}",
            hint="config and mapping files are a few kilobytes; is this the right file?",
        )


def check_bounds(text: str) -> None:
    """Size, nesting and tags of ``text``, checked on the event stream (no tree, no recursion)."""
    if len(text) > MAX_FILE_BYTES:
        check_size(len(text.encode("utf-8", "surrogatepass")))
    _check_flow_depth(text)
    depth = 0
    for event in YAML(typ="rt").parse(text):
        explicit = getattr(event, "tag", None) if isinstance(event, NodeEvent) else None
        if explicit is not None:
            mark = event.start_mark
            tag = str(explicit).replace("tag:yaml.org,2002:", "!!")
            raise InputBoundError(
                f"YAML tag `{tag}` is not accepted",
                mark.line,
                mark.column,
                "write the value without a `!`/`!!` tag; these files hold plain text, numbers, lists and mappings",
            )
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                _too_deep(event.start_mark.line, event.start_mark.column)
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _too_deep(line: int, column: int) -> None:
    raise InputBoundError(
        f"mappings and lists nest deeper than {MAX_DEPTH} levels",
        line,
        column,
        "real config and mapping files nest a few levels; flatten the structure",
    )


def _check_flow_depth(text: str) -> None:
    """A lexical pass for ``[``/``{`` nesting, before ruamel's scanner spends quadratic time on it.

    Brackets inside quotes and comments are skipped; a plain scalar with unbalanced brackets can only make
    the count larger than ruamel's, and only past :data:`MAX_DEPTH` does that matter.
    """
    depth = 0
    line = column = 0
    quote = ""
    previous = "\n"
    in_comment = False
    for ch in text:
        if ch == "\n":
            line, column, in_comment, previous = line + 1, 0, False, ch  # quoted text may span lines
            continue
        if in_comment:
            column += 1
            continue
        if quote:
            if ch == quote and previous != "\\":
                quote = ""
        elif ch in "'\"" and (previous in " \t[{,:\n-?"):
            quote = ch
        elif ch == "#" and previous in " \t\n":
            in_comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                _too_deep(line, column)
        elif ch in "]}":
            depth = max(depth - 1, 0)
        previous = ch
        column += 1


def root_mark(tree: CommentedMap | CommentedSeq) -> Mark:
    return Mark(tree.lc.line + 1, tree.lc.col + 1, tree.lc.line + 1, tree.lc.col + 1)


def to_plain(
    tree: CommentedMap | CommentedSeq, *, text_keys: bool = False, tagged_as_text: bool = True
) -> tuple[Any, Marks]:
    """Plain Python values of a round-trip tree (dicts, lists, scalars: as untyped as JSON), and the mark
    of every node.

    ``text_keys``: every mapping key becomes ``str`` (the settings' section and field names); otherwise
    keys are converted like values. ``tagged_as_text``: dates and other tagged scalars become their text
    (the mapping schema wants text); otherwise they are kept as ruamel gives them, for the schema to
    refuse. Raises :class:`TooLarge` beyond :data:`MAX_NODES` nodes, ``RecursionError`` for an alias
    that contains itself.
    """
    marks = Marks(root_mark(tree))
    return _plain(tree, (), marks, text_keys, tagged_as_text), marks


def _plain(node: object, path: PathKey, marks: Marks, text_keys: bool, tagged_as_text: bool) -> Any:
    marks.count += 1
    if marks.count > MAX_NODES:
        raise TooLarge
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            try:
                key_line, key_col = node.lc.key(key)
                value_line, value_col = node.lc.value(key)
            except (KeyError, TypeError):  # a key merged in with `<<: *anchor`: point at the mapping
                key_line = value_line = node.lc.line
                key_col = value_col = node.lc.col
            sub = (*path, str(key))
            block = isinstance(value, LiteralScalarString | FoldedScalarString)
            marks.add(sub, Mark(value_line + 1, value_col + 1, key_line + 1, key_col + 1, block))
            plain_key = str(key) if text_keys else _scalar(key, tagged_as_text)
            out[plain_key] = _plain(value, sub, marks, text_keys, tagged_as_text)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            line, col = node.lc.item(index)
            sub = (*path, index)
            marks.add(sub, Mark(line + 1, col + 1, line + 1, col + 1, isinstance(value, LiteralScalarString)))
            items.append(_plain(value, sub, marks, text_keys, tagged_as_text))
        return items
    return _scalar(node, tagged_as_text)


def _scalar(value: object, tagged_as_text: bool) -> Any:
    """ruamel's scalar subclasses (``ScalarFloat``, ``LiteralScalarString``…) as the plain built-in type."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return str(value) if tagged_as_text else value


def dotted(path: Iterable[str | int]) -> str:
    """``route.where.all[1].lte``: keys joined by dots, list indices in brackets."""
    text = ""
    for elem in path:
        if isinstance(elem, int):
            text += f"[{elem}]"
        else:
            text += ("." if text else "") + str(elem)
    return text
