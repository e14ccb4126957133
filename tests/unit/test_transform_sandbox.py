"""Templates cannot reach Python internals or exhaust the process: each attempt is one TemplateError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.mapping.sandbox import MAX_OUTPUT
from bridge.mapping.transform import TemplateError, render

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__dict__ }}",
    "{{ record._secret }}",
    "{{ record['__class__'] }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ dict.__base__ }}",
    "{{ range.__self__ }}",
    "{% set x = record.update({'a': 1}) %}{{ x }}",
    "{{ [].append(1) }}",
]

BOMBS = [
    "{{ range(10**9)|list }}",
    "{{ 'x' * 10**9 }}",
    "{{ ['x'] * 10**9 }}",
    "{{ 10 ** 100000 }}",
    "{{ '%999999999s' | format(1) }}",
    "{{ '%999999999s' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'a' | center(999999999) }}",
    "{{ ('a\\n' * 2000) | indent(99) }}",
    "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "{% for i in range(9000) %}{{ 'abcdefghijklmnop' }}{% endfor %}",
    "{{ ('ab' * 50000) ~ ('ab' * 50000) }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ lipsum(1000) }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escapes_fail_with_a_template_error(source: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render(source, {"record": {"key": "INC1"}})
    assert raised.value.kind in {"sandbox", "undefined"}
    assert "globals" not in str(raised.value).lower() or "unsafe" in str(raised.value)


@pytest.mark.parametrize("source", BOMBS)
def test_resource_bombs_fail_with_a_template_error(source: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render(source, {})
    assert raised.value.kind in {"limit", "undefined"}


def test_self_renders_harmlessly() -> None:
    assert render("{{ self }}", {}).startswith("<TemplateReference")


def test_work_budget_is_per_render() -> None:
    source = "{% for i in range(9000) %}{% endfor %}ok"
    for _ in range(30):  # 270 000 iterations in all; each render has its own budget
        assert render(source, {}) == "ok"


def test_output_just_under_the_cap_renders() -> None:
    assert len(render("{{ 'x' * n }}", {"n": MAX_OUTPUT})) == MAX_OUTPUT


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_arbitrary_templates_never_raise_anything_but_template_error(source: str) -> None:
    try:
        result = render(source, {"number": "INC1", "record": {"key": "INC1"}})
    except TemplateError:
        return
    assert isinstance(result, str)
    assert len(result) <= MAX_OUTPUT
