"""The Jinja2 environment mapping templates run in, hardened beyond Jinja's own sandbox.

Jinja's ``ImmutableSandboxedEnvironment`` already refuses ``_``-prefixed attributes, ``__class__`` walks and
mutation of containers. It does not stop a template from exhausting the daemon: ``{{ 'x' * 10**9 }}``,
``{{ '%999999999s' | format(1) }}``, nested loops over ``range(100000)`` or a macro that calls itself twice.
A mapping is written by an admin, but it runs for every record, unattended, so a mistake there must
become one clear :class:`TemplateError`, never a frozen or killed process. This module adds:

* an output cap (:data:`MAX_OUTPUT` characters) checked while rendering, and the same cap on every
  intermediate value, checked *before* it is allocated wherever the size can be known in advance: ``~``
  (rewritten to :func:`_concat`), ``+`` and ``*`` on strings and lists, ``%`` / ``format`` / ``.format()``
  (every field counted at its width and precision, ``*`` and nested widths at the largest number given),
  ``replace``, ``join``, ``indent``, ``wordwrap``, ``expandtabs``, ``translate`` and the bodies of macros and
  ``{% set %}``/``{% filter %}`` blocks (:meth:`BridgeSandbox.concat`); sizes count the text inside lists, so
  a list of references to one long string is as long as what it prints;
* a total of :data:`MAX_BUILT` characters built per render (every checked value and every ``{{ … }}``),
  so many bounded strings cannot add up to an unbounded amount of memory;
* a work budget per render (:data:`MAX_STEPS` loop iterations plus calls), counted by rewriting every
  ``{% for %}`` to iterate through a counting wrapper, and by the sandbox's ``call`` hook, and a wall-clock
  limit (:data:`MAX_RENDER_SECONDS`) checked at the same points;
* caps on ``**`` exponents, on integer arguments (widths, repeat counts), on ``range`` and on the length
  of a template's source (:data:`MAX_SOURCE`; compiling is not covered by the render's time limit).

The budget lives in a ``ContextVar`` so concurrent renders (the daemon's thread pool) do not share it.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from bridge.errors import BridgeError

MAX_OUTPUT = 100_000
"""Longest text a template may produce (and longest string or list it may build on the way)."""

MAX_BUILT = 20 * MAX_OUTPUT
"""Characters one render may build in total (every intermediate string, every piece of output): what
keeps many bounded strings from adding up to an unbounded amount of memory."""

MAX_STEPS = 100_000
"""Loop iterations plus calls one render may perform."""

MAX_RANGE = 10_000
"""Longest ``range()`` a template may ask for."""

MAX_EXPONENT_BITS = 4_096
"""Largest number (in bits) ``**`` may produce."""

MAX_SOURCE = 20_000
"""Longest template source: compiling is not covered by the render's time limit, and real ones are short."""

MAX_RENDER_SECONDS = 1.0
"""Wall-clock time one render may take, checked at every loop step, call and built value."""

_LOOP_GUARD = "__bridge_loop_guard__"
_CONCAT = "__bridge_concat__"
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")
_DIGITS = re.compile(r"\d+")


class TemplateError(BridgeError):
    """A template failed to compile or render.

    ``kind`` says why: ``syntax`` (does not compile), ``undefined`` (a variable or attribute that does not
    exist), ``sandbox`` (reached for Python internals), ``limit`` (too much output or work) or ``runtime``
    (a filter or operation failed on the data). ``lineno`` is the line inside the template, when known.
    """

    def __init__(self, message: str, *, kind: str = "runtime", lineno: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.lineno = lineno


class _Budget:
    __slots__ = ("built", "deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.built = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def tick(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > MAX_STEPS:
            raise TemplateError(
                f"template does too much work (more than {MAX_STEPS} loop iterations and calls)", kind="limit"
            )
        if time.monotonic() > self.deadline:
            raise TemplateError(f"template took longer than {MAX_RENDER_SECONDS:g} s to render", kind="limit")

    def spend(self, characters: int) -> None:
        self.built += characters
        if self.built > MAX_BUILT:
            raise TemplateError(
                f"template builds more than {MAX_BUILT} characters in total while rendering", kind="limit"
            )


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("bridge_template_budget", default=None)


def _tick(count: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick(count)


def _weight(value: Any, limit: int = MAX_OUTPUT) -> int:
    """About how many characters ``value`` prints as (containers count their items' text), stopping past ``limit``.

    Counting items alone would let a list of 100 000 references to one 100 000-character string through.
    """
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 * len(item) + 2
            pending.extend(item)
        elif isinstance(item, dict):
            total += 4 * len(item) + 2
            pending.extend(item.keys())
            pending.extend(item.values())
        else:
            total += 1
    return total


def _refuse(what: str, size: int) -> TemplateError:
    return TemplateError(f"template {what} of about {size} characters; the limit is {MAX_OUTPUT}", kind="limit")


def _bound(size: int, what: str) -> None:
    """Refuse an operation whose result would pass :data:`MAX_OUTPUT`, before it allocates; count it."""
    if size > MAX_OUTPUT:
        raise _refuse(what, size)
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick(0)
        budget.spend(size)


def _check_size(value: Any) -> Any:
    size = _weight(value)
    if size > MAX_OUTPUT:
        raise _refuse("builds a value", size)
    return value


def _check_int_args(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_OUTPUT:
            raise TemplateError(
                f"template passes the number {arg} to a function or filter; the limit is {MAX_OUTPUT}", kind="limit"
            )


def _largest_int(values: Iterable[Any]) -> int:
    return max((abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool)), default=0)


def _format_size(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any], *, percent: bool) -> int:
    """An upper estimate of what formatting ``fmt`` produces: every field may print the largest argument,
    padded to its width and precision (``*`` and nested ``{…}`` widths take the largest number given)."""
    values = [*args, *kwargs.values()]
    if len(values) == 1 and isinstance(values[0], tuple | dict):  # `'%s %s' % (a, b)`, `'%(a)s' % d`
        inner = values[0]
        values = list(inner.values()) if isinstance(inner, dict) else list(inner)
    widest = max((_weight(v) for v in values), default=0)
    largest = _largest_int(values)
    size = len(fmt)
    if percent:
        for width, precision, _ in _PERCENT_FIELD.findall(fmt):
            size += widest
            for number in (width, precision):
                size += largest if number == "*" else int(number or 0)
            if size > MAX_OUTPUT:
                break
        return size
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return size  # the real call raises the same error
    for _, name, spec, _ in fields:
        if name is None:
            continue
        size += widest + sum(int(d) for d in _DIGITS.findall(spec or "")) + (spec or "").count("{") * largest
        if size > MAX_OUTPUT:
            break
    return size


def _replace_size(text: str, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _materialise(items: Any) -> Any:
    """A generator or range as a list (at most :data:`MAX_OUTPUT` + 1 items), so a join can be sized first."""
    if isinstance(items, list | tuple | set | frozenset | dict | str) or not isinstance(items, Iterable):
        return items
    taken: list[Any] = []
    for item in items:
        taken.append(item)
        if len(taken) > MAX_OUTPUT:
            raise _refuse("joins a sequence", len(taken))
    _tick(len(taken) // 100)
    return taken


def _join_size(separator: Any, items: Any) -> int:
    if not isinstance(items, list | tuple | set | frozenset | dict | str):
        return 0
    count = len(items)
    sep = _weight(separator) if separator is not None else 0
    return _weight(items) + max(count - 1, 0) * sep


def _method_size(receiver: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The size a ``str`` method will produce, for the methods that multiply (``None``: not one of them)."""
    if name in {"format", "format_map"}:
        mapping = args[0] if name == "format_map" and args and isinstance(args[0], dict) else None
        return _format_size(receiver, () if mapping else args, mapping or kwargs, percent=False)
    if name == "replace" and len(args) >= 2:
        return _replace_size(receiver, *args[:3])
    if name == "join" and args:
        return _join_size(receiver, args[0])
    if name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        return len(receiver) + receiver.count("\t") * (tab if isinstance(tab, int) else 8)
    if name == "translate" and args and isinstance(args[0], dict):
        longest = max((_weight(v) for v in args[0].values()), default=1)
        return len(receiver) * max(longest, 1)
    return None


def _guarded_iter(iterable: Any) -> Iterator[Any]:
    """Iterate ``iterable`` for a ``{% for %}``, charging one step per item."""
    for item in iterable:
        _tick()
        yield item


def _safe_range(*args: int) -> range:
    _check_int_args(args)
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise TemplateError(f"range of {len(result)} numbers is refused; the limit is {MAX_RANGE}", kind="limit")
    _tick(len(result) // 100)
    return result


def _concat(*parts: Any) -> str:
    """``a ~ b``: sized before the string exists (Jinja's own ``str_join`` is not intercepted)."""
    _bound(sum(_weight(p) for p in parts), "joins text with `~`")
    return "".join(map(str, parts))


def _repeat_size(left: Any, right: Any) -> int | None:
    if isinstance(left, str | list | tuple) and isinstance(right, int) and not isinstance(right, bool):
        return _weight(left) * right
    if isinstance(right, str | list | tuple) and isinstance(left, int) and not isinstance(left, bool):
        return _weight(right) * left
    return None


def _power_bits(base: Any, exponent: Any) -> float:
    if not isinstance(base, int | float) or not isinstance(exponent, int | float):
        return 0.0
    if abs(base) <= 1 or exponent <= 0:
        return 0.0
    return float(exponent) * math.log2(abs(base))


class BridgeSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the size, work, time and number caps described in the module docstring."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    @staticmethod
    def concat(parts: Iterable[str]) -> str:
        """The body of a macro, ``{% set %}`` block, call or filter block: sized before it is joined."""
        items = list(parts)
        _bound(sum(len(p) for p in items), "builds a block (macro, `{% set %}` or `{% filter %}` body)")
        return "".join(items)

    def call_binop(self, context: jinja2.runtime.Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            size = _repeat_size(left, right)
            if size is not None:
                _bound(size, "repeats a value with `*`")
        elif operator_ == "**":
            if _power_bits(left, right) > MAX_EXPONENT_BITS:
                raise TemplateError(f"{left} ** {right} is too large a number for a template", kind="limit")
        elif operator_ == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                _bound(_weight(left) + _weight(right), "joins values with `+`")
        elif operator_ == "%" and isinstance(left, str):
            _bound(_format_size(left, (right,), {}, percent=True), "formats text with `%`")
        return _check_size(super().call_binop(context, operator_, left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_int_args(args)
        _check_int_args(kwargs.values())
        receiver = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if receiver is None:
            wrapped = getattr(__obj, "__wrapped__", None)
            receiver, name = getattr(wrapped, "__self__", None), getattr(wrapped, "__name__", name)
        if isinstance(receiver, str):
            if name == "join" and args:
                args = (_materialise(args[0]), *args[1:])
            size = _method_size(receiver, name, args, kwargs)
            if size is not None:
                _bound(size, f"builds text with `.{name}()`")
        return _check_size(super().call(__context, __obj, *args, **kwargs))


def _filter_size(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The size a multiplying filter will produce (``None``: not one of them). ``args`` start at the value."""
    context_types = (jinja2.nodes.EvalContext, jinja2.Environment, jinja2.runtime.Context)
    positional = [a for a in args if not isinstance(a, context_types)]  # pass_environment & co. come first
    if not positional:
        return None
    value, rest = positional[0], positional[1:]
    if name == "do_format" and isinstance(value, str):
        return _format_size(value, tuple(rest), kwargs, percent=True)
    if name == "do_replace" and isinstance(value, str) and len(rest) >= 2:
        return _replace_size(value, *rest[:3])
    if name == "do_join":
        separator = rest[0] if rest else kwargs.get("d", "")
        return _join_size(separator, value)
    if name == "do_indent" and isinstance(value, str):
        width = rest[0] if rest else kwargs.get("width", 4)
        width = _weight(width) if isinstance(width, str) else width
        return len(value) + (value.count("\n") + 1) * (width if isinstance(width, int) else 4)
    if name == "do_wordwrap" and isinstance(value, str):
        width = rest[0] if rest else kwargs.get("width", 79)
        wrap = rest[2] if len(rest) > 2 else kwargs.get("wrapstring", "\n")
        lines = len(value) // max(width if isinstance(width, int) else 1, 1) + value.count("\n") + 1
        return len(value) + lines * _weight(wrap)
    return None


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_int_args(args)
        _check_int_args(kwargs.values())
        if func.__name__ == "do_join":  # do_join(eval_ctx, value, …): size the items, not a generator
            args = tuple(_materialise(a) if i == 1 else a for i, a in enumerate(args))
        size = _filter_size(func.__name__, args, kwargs)
        if size is not None:
            _bound(size, f"builds text with the `{func.__name__.removeprefix('do_')}` filter")
        return _check_size(func(*args, **kwargs))

    return guarded


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` passes here before it is printed or buffered: count it, and print ``None`` as nothing.

    An empty field (``None``, e.g. from Request Tracker) prints as nothing, not as the word "None".
    """
    if value is None:
        return ""
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick(0)
        budget.spend(_weight(value, MAX_BUILT))
    return value


def _make_environment() -> BridgeSandbox:
    env = BridgeSandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=_finalize,
    )
    env.globals.pop("lipsum", None)  # generates arbitrary amounts of text; nothing a mapping needs
    env.globals["range"] = _safe_range
    env.globals[_LOOP_GUARD] = _guarded_iter
    env.globals[_CONCAT] = _concat
    env.filters = {name: _guard_filter(func) for name, func in env.filters.items()}
    return env


ENVIRONMENT = _make_environment()


def _guard_loops(tree: nodes.Template) -> nodes.Template:
    """Make every ``{% for %}`` iterate through :func:`_guarded_iter` so loops spend the work budget, and
    every ``~`` go through :func:`_concat` so it is sized before it allocates."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name(_LOOP_GUARD, "load"), [loop.iter], [], None, None, lineno=loop.lineno)
    for parent in list(tree.find_all(nodes.Node)):
        for field_name, value in parent.iter_fields():
            if isinstance(value, nodes.Concat):
                setattr(parent, field_name, _concat_call(value))
            elif isinstance(value, list):  # in place: a Call made from an outer `~` shares this list
                value[:] = [_concat_call(v) if isinstance(v, nodes.Concat) else v for v in value]
    tree.set_environment(ENVIRONMENT)
    return tree


def _concat_call(node: nodes.Concat) -> nodes.Call:
    return nodes.Call(nodes.Name(_CONCAT, "load"), node.nodes, [], None, None, lineno=node.lineno)


def parse(source: str) -> nodes.Template:
    """The template's syntax tree; :class:`TemplateError` (``kind="syntax"``) when it does not parse."""
    if len(source) > MAX_SOURCE:
        raise TemplateError(f"template is {len(source)} characters long; the limit is {MAX_SOURCE}", kind="limit")
    try:
        return ENVIRONMENT.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template syntax error on template line {exc.lineno}: {exc.message}", kind="syntax", lineno=exc.lineno
        ) from None


@functools.lru_cache(maxsize=512)
def compile_template(source: str) -> jinja2.Template:
    """Compile once, reuse: mappings are fixed for the life of a process."""
    tree = _guard_loops(parse(source))
    try:
        return ENVIRONMENT.from_string(tree)
    except jinja2.TemplateSyntaxError as exc:  # pragma: no cover - the parser already saw the source
        raise TemplateError(f"template syntax error: {exc.message}", kind="syntax", lineno=exc.lineno) from None


def render_capped(source: str, context: dict[str, Any]) -> str:
    """Render under a fresh work budget, stopping as soon as the output passes :data:`MAX_OUTPUT`."""
    template = compile_template(source)
    token = _BUDGET.set(_Budget())
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateError(f"template output is longer than {MAX_OUTPUT} characters", kind="limit")
            parts.append(chunk)
        return "".join(parts)
    except TemplateError:
        raise
    except SecurityError as exc:
        raise TemplateError(f"template tried something the sandbox forbids: {exc}", kind="sandbox") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template uses an undefined value: {exc.message}", kind="undefined") from None
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise TemplateError(f"template exhausted a limit: {type(exc).__name__}: {exc}", kind="limit") from None
    except Exception as exc:  # a filter raising on bad input must not crash the daemon
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}", kind="runtime") from None
    finally:
        _BUDGET.reset(token)


def private_attribute_uses(tree: nodes.Template) -> list[tuple[int, str]]:
    """``(template line, name)`` of every ``_``-prefixed attribute or item the template reaches for.

    The sandbox refuses them at render time anyway; finding them statically reports them even in a branch
    no sample record would take.
    """
    found: list[tuple[int, str]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            name: object = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        else:
            continue
        if isinstance(name, str) and name.startswith("_"):
            found.append((node.lineno, name))
    return found


def attribute_uses(tree: nodes.Template, variable: str) -> list[tuple[int, str]]:
    """``(template line, attribute)`` of every ``variable.attribute`` / ``variable['attribute']`` in the tree."""
    found: list[tuple[int, str]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):
            continue
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name == variable):
            continue
        if isinstance(node, nodes.Getattr):
            found.append((node.lineno, node.attr))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.append((node.lineno, node.arg.value))
    return found


__all__ = [
    "ENVIRONMENT",
    "MAX_BUILT",
    "MAX_OUTPUT",
    "MAX_RANGE",
    "MAX_RENDER_SECONDS",
    "MAX_SOURCE",
    "MAX_STEPS",
    "BridgeSandbox",
    "TemplateError",
    "attribute_uses",
    "compile_template",
    "parse",
    "private_attribute_uses",
    "render_capped",
]
