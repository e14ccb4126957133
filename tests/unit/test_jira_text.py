"""Plain text ↔ ADF and ↔ wiki: structure survives, record text never becomes markup."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.connectors.jira_text import adf_to_text, normalise_text, text_to_adf, text_to_wiki, wiki_to_text

_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85")
_tricky = st.sampled_from(
    [
        "- ",
        "1. ",
        "2. ",
        "```",
        "```python",
        "\n",
        "\n\n",
        "*bold*",
        "_it_",
        "{code}",
        "{noformat}",
        "&amp;",
        "&#92;",
        "https://x.example/a_b?c=1&d=*e*",
        "h1. ",
        "bq. ",
        "\\\\",
        "\\",
        "(y)",
        ":)",
        "[~dana]",
        "[a|b]",
        "!img.png!",
        "||h||",
        "|c|",
        "----",
        "{color:red}",
        "??cite??",
        "-strike-",
        "+ins+",
        "^sup^",
        "~sub~",
        " ",
    ]
)
TEXT = st.lists(st.one_of(st.text(_chars, max_size=8), _tricky), max_size=25).map("".join)


@given(TEXT)
def test_text_to_adf_and_back_is_identity_modulo_whitespace(text: str) -> None:
    assert adf_to_text(text_to_adf(text)) == normalise_text(text)


@given(TEXT)
def test_wiki_escaping_round_trips(text: str) -> None:
    assert wiki_to_text(text_to_wiki(text)) == normalise_text(text)


@given(TEXT)
def test_adf_text_nodes_are_never_empty_and_carry_the_text_literally(text: str) -> None:
    def walk(node: dict) -> None:  # type: ignore[type-arg]
        if node.get("type") == "text":
            assert node["text"]
            assert "marks" not in node
        for child in node.get("content", []):
            walk(child)

    doc = text_to_adf(text)
    assert doc["type"] == "doc"
    assert doc["version"] == 1
    walk(doc)


def test_structure_becomes_adf_nodes() -> None:
    doc = text_to_adf(
        "Intro line\nsecond line\n\n- a\n- b\n\n3. x\n4. y\n\n```sql\nselect *\n\nfrom t\n```\n\n*not bold*"
    )
    kinds = [node["type"] for node in doc["content"]]
    assert kinds == ["paragraph", "bulletList", "orderedList", "codeBlock", "paragraph"]
    assert doc["content"][0]["content"][1] == {"type": "hardBreak"}
    assert doc["content"][2]["attrs"] == {"order": 3}
    assert doc["content"][3] == {
        "type": "codeBlock",
        "attrs": {"language": "sql"},
        "content": [{"type": "text", "text": "select *\n\nfrom t"}],
    }
    assert doc["content"][4]["content"] == [{"type": "text", "text": "*not bold*"}]


def test_structure_becomes_wiki_and_markup_is_escaped() -> None:
    wiki = text_to_wiki(
        "Call {color:red} *now* [here|http://evil]\n\n- a_b\n\n1. one\n2. two\n\n```\n{noformat} *x*\n```"
    )
    assert wiki == (
        "Call \\{color:red\\} \\*now\\* \\[here\\|http://evil\\]\n\n* a\\_b\n\n# one\n# two\n\n"
        "{noformat}\n{noformat\u200b} *x*\n{noformat}"
    )


def test_urls_stay_linkable_in_wiki() -> None:
    assert text_to_wiki("see https://x.example/a_b?c=1 now") == "see https://x.example/a_b?c=1 now"


def test_backslashes_are_entities_not_line_breaks() -> None:
    assert text_to_wiki("C:\\temp\\\\x") == "C:&#92;temp&#92;&#92;x"


@pytest.mark.parametrize(
    ("wiki", "text"),
    [
        ("h1. Title\nbody *bold* and _it_", "Title\nbody bold and it"),
        ("* one\n** nested\n# first\n# second", "- one\n- nested\n1. first\n2. second"),
        ("{code:java}\nint x = 1;\n{code}", "```java\nint x = 1;\n```"),
        ("[Example|https://example.com] and [~dana]", "Example (https://example.com) and @dana"),
        ("line\\\\break", "line\nbreak"),
        ("{quote}quoted{quote}", "quoted"),
        ("||a||b||\n|1|2|", "a | b\n1 | 2"),
        ("!screen.png|thumbnail!", "[attachment]"),
    ],
)
def test_wiki_written_by_people_reads_as_plain_text(wiki: str, text: str) -> None:
    assert wiki_to_text(wiki) == text


def test_rich_adf_written_by_people_reads_as_plain_text() -> None:
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Cause"}]},
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "see "},
                    {
                        "type": "text",
                        "text": "docs",
                        "marks": [{"type": "link", "attrs": {"href": "https://d.example"}}],
                    },
                    {"type": "emoji", "attrs": {"shortName": ":tada:", "text": "🎉"}},
                ],
            },
            {"type": "blockquote", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "q"}]}]},
            {"type": "rule"},
            {"type": "panel", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "note"}]}]},
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "1"}}]},
            {"type": "codeBlock", "content": []},
        ],
    }
    assert (
        adf_to_text(doc) == "Cause\n\nsee docs (https://d.example)🎉\n\n> q\n\n---\n\nnote\n\n[attachment]\n\n```\n```"
    )


def test_empty_and_missing_values() -> None:
    assert adf_to_text(None) == ""
    assert wiki_to_text(None) == ""
    assert wiki_to_text("") == ""
    assert text_to_adf("") == {"type": "doc", "version": 1, "content": []}
    assert text_to_wiki("\n\n") == ""
