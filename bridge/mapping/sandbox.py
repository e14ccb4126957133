"""The Jinja2 environment mapping templates run in, hardened beyond Jinja's own sandbox.

Jinja's ``ImmutableSandboxedEnvironment`` already refuses ``_``-prefixed attributes, ``__class__`` walks and
mutation of containers. It does not stop a template from exhausting the daemon: ``{{ 'x' * 10**9 }}``,
``{{ '%999999999s' | format(1) }}``, nested loops over ``range(100000)`` or a macro that calls itself twice.
A mapping is written by an admin, but it runs for every record, unattended, so a mistake there must
become one clear :class:`TemplateError`, never a frozen or killed process. This module adds:

* an output cap (:data:`MAX_OUTPUT` characters) checked while rendering, plus a size check on every
  intermediate string or list the template builds with ``*``, ``+``, ``%``, a method or a filter;
* a work budget per render (:data:`MAX_STEPS` loop iterations plus calls), counted by rewriting every
  ``{% for %}`` to iterate through a counting wrapper, and by the sandbox's ``call`` hook;
* caps on ``**`` exponents, on integer arguments (widths, repeat counts) and on ``range``.

The budget lives in a ``ContextVar`` so concurrent renders (the daemon's thread pool) do not share it.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from bridge.errors import BridgeError

MAX_OUTPUT = 100_000
"""Longest text a template may produce (and longest string or list it may build on the way)."""

MAX_STEPS = 100_000
"""Loop iterations plus calls one render may perform."""

MAX_RANGE = 10_000
"""Longest ``range()`` a template may ask for."""

MAX_EXPONENT_BITS = 4_096
"""Largest number (in bits) ``**`` may produce."""

_LOOP_GUARD = "__bridge_loop_guard__"
_FORMAT_WIDTH = re.compile(r"\d{6,}")


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
    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0

    def tick(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > MAX_STEPS:
            raise TemplateError(
                f"template does too much work (more than {MAX_STEPS} loop iterations and calls)", kind="limit"
            )


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("bridge_template_budget", default=None)


def _tick(count: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick(count)


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_OUTPUT:
        raise TemplateError(
            f"template builds a value of {len(value)} items/characters; the limit is {MAX_OUTPUT}", kind="limit"
        )
    return value


def _check_int_args(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_OUTPUT:
            raise TemplateError(
                f"template passes the number {arg} to a function or filter; the limit is {MAX_OUTPUT}", kind="limit"
            )


def _check_format_string(value: Any) -> None:
    if isinstance(value, str) and _FORMAT_WIDTH.search(value) and ("%" in value or "{" in value):
        raise TemplateError(f"format string with a width or precision above {MAX_OUTPUT} is refused", kind="limit")


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


def _repeat_size(left: Any, right: Any) -> int | None:
    if isinstance(left, str | list | tuple) and isinstance(right, int) and not isinstance(right, bool):
        return len(left) * right
    if isinstance(right, str | list | tuple) and isinstance(left, int) and not isinstance(left, bool):
        return len(right) * left
    return None


def _power_bits(base: Any, exponent: Any) -> float:
    if not isinstance(base, int | float) or not isinstance(exponent, int | float):
        return 0.0
    if abs(base) <= 1 or exponent <= 0:
        return 0.0
    return float(exponent) * math.log2(abs(base))


class BridgeSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the size, work and number caps described in the module docstring."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def call_binop(self, context: jinja2.runtime.Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            size = _repeat_size(left, right)
            if size is not None and size > MAX_OUTPUT:
                raise TemplateError(
                    f"template repeats a value to {size} items; the limit is {MAX_OUTPUT}", kind="limit"
                )
        elif operator_ == "**":
            if _power_bits(left, right) > MAX_EXPONENT_BITS:
                raise TemplateError(f"{left} ** {right} is too large a number for a template", kind="limit")
        elif operator_ == "%":
            _check_format_string(left)
        return _check_size(super().call_binop(context, operator_, left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_int_args(args)
        _check_int_args(kwargs.values())
        receiver = getattr(__obj, "__self__", None)
        if receiver is None:
            receiver = getattr(getattr(__obj, "__wrapped__", None), "__self__", None)
        if isinstance(receiver, str):
            _check_format_string(receiver)
        return _check_size(super().call(__context, __obj, *args, **kwargs))


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_int_args(args)
        _check_int_args(kwargs.values())
        if func.__name__ in {"do_format"}:
            _check_format_string(next((a for a in args if isinstance(a, str)), None))
        if func.__name__ == "do_indent":
            text = next((a for a in args if isinstance(a, str)), "")
            width = kwargs.get("width", next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), 4))
            if isinstance(width, int) and len(text) + (text.count("\n") + 1) * width > MAX_OUTPUT:
                raise TemplateError("indent would exceed the template output limit", kind="limit")
        return _check_size(func(*args, **kwargs))

    return guarded


def _empty_for_none(value: Any) -> Any:
    """An empty field (``None``, e.g. from Request Tracker) prints as nothing, not as the word "None"."""
    return "" if value is None else value


def _make_environment() -> BridgeSandbox:
    env = BridgeSandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=_empty_for_none,
    )
    env.globals.pop("lipsum", None)  # generates arbitrary amounts of text; nothing a mapping needs
    env.globals["range"] = _safe_range
    env.globals[_LOOP_GUARD] = _guarded_iter
    env.filters = {name: _guard_filter(func) for name, func in env.filters.items()}
    return env


ENVIRONMENT = _make_environment()


def _guard_loops(tree: nodes.Template) -> nodes.Template:
    """Make every ``{% for %}`` iterate through :func:`_guarded_iter` so loops spend the work budget."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name(_LOOP_GUARD, "load"), [loop.iter], [], None, None, lineno=loop.lineno)
    tree.set_environment(ENVIRONMENT)
    return tree


def parse(source: str) -> nodes.Template:
    """The template's syntax tree; :class:`TemplateError` (``kind="syntax"``) when it does not parse."""
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
    "MAX_OUTPUT",
    "MAX_RANGE",
    "MAX_STEPS",
    "BridgeSandbox",
    "TemplateError",
    "attribute_uses",
    "compile_template",
    "parse",
    "private_attribute_uses",
    "render_capped",
]
