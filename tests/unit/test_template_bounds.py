"""Hostile templates are refused before they allocate, quickly, with a located error (bridge/mapping/sandbox.py).

Measured before: ``{% set a = a ~ a %}`` was never size-checked (a 409 MB string rendered without error);
``replace``, ``%*s``, nested ``format`` widths and ``join`` built 300–400 MB before the size check ran.
Each case here is refused within a second or two, and ``tracemalloc`` shows the render never came near
allocating what the template asked for.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from bridge.mapping.check import check_mappings
from bridge.mapping.sandbox import MAX_OUTPUT, MAX_RENDER_SECONDS, TemplateError, render_capped

HOSTILE = {
    "concat-doubling": "{% set a = 'x' * 1000 %}" + "{% set a = a ~ a %}" * 20 + "{{ a }}",
    "concat-in-namespace": "{% set ns = namespace(a='x' * 1000) %}{% for i in range(30) %}"
    "{% set ns.a = ns.a ~ ns.a %}{% endfor %}{{ ns.a }}",
    "plus-doubling": "{% set a = 'x' * 60000 %}{{ a + a }}",
    "replace-filter": "{{ ('x' * 20000) | replace('x', 'y' * 20000) }}",
    "replace-method": "{{ ('x' * 20000).replace('x', 'y' * 20000) }}",
    "percent-star": "{{ '%*s%*s' % (99999, 'x', 99999, 'y') }}",
    "many-percent-widths": "{{ ('%99999s' * 4000) % ((1,) * 4000) }}",
    "nested-format-widths": "{{ ('{0:{1}}' * 4000).format('x', 99999) }}",
    "format-filter-widths": "{{ ('%99999s' * 4000) | format(*range(4000)) }}",
    "precision": "{{ ('%.99999f' * 4000) % ((1.5,) * 4000) }}",
    "join-filter": "{{ range(4000) | join('x' * 90000) }}",
    "join-method": "{{ ('x' * 90000).join(range(4000) | map('string') | list) }}",
    "list-of-big-strings": "{% set a = 'x' * 90000 %}{{ ([a] * 90000) | length }}",
    "macro-body": "{% set a = 'x' * 90000 %}{% macro f() %}" + "{{ a }}" * 200 + "{% endmacro %}{{ f() | length }}",
    "set-block": "{% set a = 'x' * 90000 %}{% set b %}{% for i in range(4000) %}{{ a }}{% endfor %}{% endset %}{{ b }}",
    "wordwrap": "{{ ('x' * 90000) | wordwrap(1, wrapstring='y' * 90000) }}",
    "expandtabs": "{{ ('\t' * 90000).expandtabs(90000) }}",
    "indent": "{{ ('\n' * 90000) | indent(90000) }}",
    "translate": "{{ ('a' * 90000).translate({97: 'b' * 90000}) }}",
    "long-source": "{{ x }}" * 10_000,
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_template_is_refused_quickly_before_it_allocates(source: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(TemplateError) as caught:
            render_capped(source, {})
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind == "limit"
    assert elapsed < MAX_RENDER_SECONDS + 2
    assert peak < 60_000_000, f"peaked at {peak} bytes"


def test_a_slow_template_stops_at_the_wall_clock_limit() -> None:
    source = (
        "{% for i in range(10000) %}{% for j in range(9) %}"
        "{{ (i ~ j ~ 'abc') | upper | lower | trim | replace('a', 'b') | length }}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"longer than 1 s|too much work"):
        render_capped(source, {})
    assert time.monotonic() - started < MAX_RENDER_SECONDS + 2


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'INC' ~ number }}", "INC42"),
        ("{{ '%5s|%-4d|%.2f' % ('ab', 7, 1.5) }}", "   ab|7   |1.50"),
        ("{{ '{:>6}|{:{w}}'.format('x', 'y', w=3) }}", "     x|y  "),
        ("{{ ['a', 'b'] | join(', ') }} {{ 'abc' | replace('b', 'xx') }}", "a, b axxc"),
        ("{{ 'a\tb'.expandtabs(4) }}", "a   b"),
        ("{% set ns = namespace(s='') %}{% for i in range(200) %}{% set ns.s = ns.s ~ i %}{% endfor %}"
         "{{ ns.s | length }}", "490"),
        ("{{ 'x' * MAX }}", "x" * MAX_OUTPUT),
    ],
)
def test_ordinary_templates_still_render(source: str, expected: str) -> None:
    assert render_capped(source, {"number": 42, "MAX": MAX_OUTPUT}) == expected


def test_bridge_check_refuses_a_hostile_template_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "name: m\n"
        "route: {record_type: incident}\n"
        "target: {project: OPS, issue_type: Bug}\n"
        "fields:\n"
        "  description:\n"
        "    template: |\n"
        "      {% set a = 'x' * 10000 %}\n"
        "      {% set a = a ~ a ~ a ~ a %}{% set a = a ~ a ~ a ~ a %}{% set a = a ~ a ~ a ~ a %}\n"
        "      {{ a }}\n"
        '  summary: {template: "{{ number }}"}\n',  # Jira creates nothing without one
        encoding="utf-8",
    )
    started = time.monotonic()
    [problem] = [p for p in check_mappings(tmp_path) if p.severity == "error"]
    assert time.monotonic() - started < 5
    assert problem.path == "fields.description.template"
    assert problem.line == 6
    assert "joins text with `~`" in problem.message
