"""Vendor text limits: text over a limit is cut at a boundary with a notice, never refused or put on the error list."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.connectors.jira_text import adf_size, converted_size, fit_for_jira, text_to_adf, text_to_wiki
from bridge.mapping.context import to_jira_context
from bridge.mapping.schema import DEFAULT_TRUNCATION_NOTICE, FieldRule
from bridge.mapping.transform import project_value
from bridge.model import Ref, Side
from bridge.text_limits import boundary, cut, fit, omitted_in

RECORD = Ref(Side.ITSM, "incident", "sys42", "INC0010042", "https://sn.example/incident.do?sys_id=sys42")


def notice(omitted: int) -> str:
    return f"… (truncated by bridge: {omitted:,} more characters in INC0010042)"


@given(st.text(max_size=3000), st.integers(min_value=80, max_value=2500))
def test_a_cut_never_passes_the_limit_keeps_a_prefix_and_counts_what_it_left_out(text: str, limit: int) -> None:
    result = cut(text, limit, notice)
    assert len(result) <= limit
    if len(text) <= limit:
        assert result == text
    else:
        kept, omitted = omitted_in(result)
        assert text.startswith(kept)
        assert omitted == len(text) - len(kept)


def test_a_cut_ends_at_a_line_or_word_boundary() -> None:
    log = "".join(f"line {n}: connection reset by peer\n" for n in range(5000))
    result = cut(log, 1000, notice)
    kept, _ = omitted_in(result)
    assert kept.endswith("by peer")  # a whole line, not half of one
    assert result.endswith("more characters in INC0010042)")
    words = "lorem ipsum dolor " * 200
    assert cut(words, 500, notice).split("\n")[0].endswith(("lorem", "ipsum", "dolor"))
    assert boundary("x" * 1000, 100) == 100  # no boundary: a hard cut


def test_fit_measures_the_converted_form_and_keeps_one_notice_with_the_total() -> None:
    text = cut("*a* {b}\n" * 10_000, 30_000, notice)  # within 30,000 as text, far over once escaped
    result = fit(text, 32_767, lambda t: len(text_to_wiki(t)), notice)
    assert len(text_to_wiki(result)) <= 32_767
    assert result.count("truncated by bridge") == 1
    kept, omitted = omitted_in(result)
    assert omitted == 80_000 - len(kept)


def test_the_jira_fit_keeps_the_mapping_notice_and_its_link_on_both_deployments() -> None:
    body = "\n".join(f"{n} [x] *y* {{z}}" for n in range(20_000))
    record_notice = DEFAULT_TRUNCATION_NOTICE
    from bridge.mapping.transform import notice as render_notice

    text = cut(body, 32_767, render_notice(record_notice, source={"key": RECORD.key, "url": RECORD.url}))
    for cloud in (True, False):
        result = fit_for_jira(text, cloud=cloud)
        assert converted_size(result, cloud=cloud) <= 32_767
        last = result.rsplit("\n", 1)[1]
        assert last.startswith("… (truncated by bridge: ")
        assert last.endswith(f"more characters in INC0010042: {RECORD.url})")
        kept, omitted = omitted_in(result)
        assert omitted == len(body) - len(kept)
    assert fit_for_jira("short", cloud=True) == "short"
    compact = '{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi"}]}]}'
    assert adf_size(text_to_adf("hi")) == len(compact)


# ---------------------------------------------------------------------------------- field rules


def _project(key: str, rule: FieldRule, fields: dict[str, object]) -> object:
    context = to_jira_context(fields, RECORD)
    return project_value(key, rule, fields, context, notice_template=DEFAULT_TRUNCATION_NOTICE)


def test_a_100000_character_description_is_escalated_truncated_with_a_notice_naming_the_record() -> None:
    description = "x" * 60_000 + "\n" + "y " * 20_000
    assert len(description) == 100_001
    for rule in (FieldRule(itsm="description"), FieldRule(template="{{ description }}")):
        value = _project("description", rule, {"description": description})
        assert isinstance(value, str)
        assert len(value) <= 32_767
        kept, omitted = omitted_in(value)
        assert description.startswith(kept)
        assert omitted == len(description) - len(kept)
        assert value.endswith(f"more characters in INC0010042: {RECORD.url})")
        assert f"{omitted:,}" in value.rsplit("\n", 1)[1]


def test_a_template_around_a_huge_field_counts_what_it_copies_outside_its_output_cap() -> None:
    description = "z" * 150_000  # over the template output cap (100,000) on its own
    rule = FieldRule(template="Reported by the caller:\n{{ description }}\n-- {{ record.key }}")
    value = _project("description", rule, {"description": description})
    assert isinstance(value, str)
    assert len(value) <= 32_767
    kept, omitted = omitted_in(value)
    assert kept.startswith("Reported by the caller:\nzzz")
    assert omitted == len("Reported by the caller:\n") + 150_000 + len("\n-- INC0010042") - len(kept)


def test_the_summary_defaults_to_255_and_max_length_overrides_the_default() -> None:
    summary = "Printer down on floor 3 " * 30
    value = _project("summary", FieldRule(itsm="short_description"), {"short_description": summary})
    assert isinstance(value, str)
    assert len(value) <= 255
    assert value.endswith("Printer down…")  # a one-line title: no notice line, just an ellipsis at a word
    assert "\n" not in value
    short = _project("customfield_1", FieldRule(itsm="notes", max_length=100), {"notes": "word " * 100})
    assert short == "word " * 19 + "word…"  # the notice would fill the field
    roomy = _project("customfield_1", FieldRule(itsm="notes", max_length=400), {"notes": "word " * 100})
    assert isinstance(roomy, str)
    assert len(roomy) <= 400
    assert roomy.startswith("word word")
    assert "truncated by bridge" in roomy
    untouched = _project("description", FieldRule(itsm="d"), {"d": "fine"})
    assert untouched == "fine"


@given(
    st.text(alphabet=st.sampled_from("ab *_{}[]|\\-#\n`é"), max_size=4000),
    st.integers(min_value=300, max_value=3000),
    st.booleans(),
)
def test_the_jira_fit_always_fits_after_conversion_and_keeps_a_prefix(text: str, limit: int, cloud: bool) -> None:
    result = fit_for_jira(text, cloud=cloud, limit=limit)
    assert converted_size(result, cloud=cloud) <= limit
    if converted_size(text, cloud=cloud) <= limit:
        assert result == text
    else:
        kept, omitted = omitted_in(result)
        assert text.startswith(kept)
        assert omitted == len(text) - len(kept)
