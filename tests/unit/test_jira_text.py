"""Plain text ↔ ADF and ↔ wiki: structure survives, record text never becomes markup."""

from __future__ import annotations

import re

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
        "Call \\{color:red} \\*now* \\[here|http://evil]\n\n* a_b\n\n# one\n# two\n\n"
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


# --------------------------------------------------- wiki as a person sees it (issue 16: no needless escapes)


def render_wiki(wiki: str) -> str:
    """What a person reads on a Jira Data Center page for ``wiki``, written from Atlassian's notation help
    (https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all) independently of the
    connector's reader: every piece of markup visibly changes the text (emphasis marks vanish, emoticons
    and images become pictures, `` -- `` an en dash, links their alias), so unescaped markup is caught.
    """
    held: list[str] = []

    def hold(value: str) -> str:
        held.append(value)
        return chr(0xF0000 + len(held) - 1)

    def unhold(value: str) -> str:
        return re.sub(r"[\U000F0000-\U000FFFFF]", lambda m: held[ord(m.group(0)) - 0xF0000], value)

    def fence(language: str | None, body: str) -> str:
        return f"```{language or ''}\n{unhold(body)}\n```" if body else f"```{language or ''}\n```"

    text = re.sub(r"[\U000F0000-\U000FFFFF]", lambda m: hold(m.group(0)), wiki)
    text = re.sub(
        r"(?<!\\)\{(noformat|code)(?::([^}]*))?\}\n?(.*?)\n?(?<!\\)\{\1\}",
        lambda m: hold(fence(m.group(2), m.group(3).replace(f"{{{m.group(1)}\u200b}}", f"{{{m.group(1)}}}"))),
        text,
        flags=re.DOTALL,
    )
    text = re.sub(r"(?<![A-Za-z0-9])https?://[A-Za-z0-9._~:/?@!$'()*+,=%-]+", lambda m: hold(m.group(0)), text)
    text = text.replace("\\\\", "\n")
    text = re.sub(r"\\(\S)", lambda m: hold(unhold(m.group(1))), text)
    text = re.sub(r"&#(\d+);", lambda m: hold(chr(int(m.group(1)))), text)
    text = re.sub(r"&(amp|lt|gt|quot);", lambda m: hold({"amp": "&", "lt": "<", "gt": ">", "quot": '"'}[m.group(1)]),
                  text)
    lines = []
    counter = 0
    for line in text.split("\n"):
        numbered = re.match(r"^\s*#+ (.*)$", line)  # HTML collapses the item's leading blanks anyway
        counter = counter + 1 if numbered else 0
        if numbered:
            line = f"{counter}. {numbered.group(1)}"
        elif re.match(r"^\s*----\s*$", line):
            line = "<hr>"
        elif bullet := re.match(r"^\s*[*-]+ (.*)$", line):
            line = f"- {bullet.group(1)}"
        elif heading := re.match(r"^\s*(h[1-6]|bq)\.\s*(.*)$", line, re.IGNORECASE):
            line = f"<{heading.group(1)}>{heading.group(2)}"
        elif line.lstrip().startswith("|"):
            line = "<table>" + line.replace("|", " ")
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"\{\{(.+?)\}\}", r"<tt>\1</tt>", text)
    text = re.sub(r"\{[A-Za-z][^}]*\}", "<macro>", text)
    text = re.sub(r"\[([^\]\n]*)\]", r"<a>\1</a>", text)
    text = re.sub(r"!([^!\s]+)!", "<img>", text)
    text = re.sub(r"\((?:y|n|i|/|x|!|\+|-|\?|on|off|\*|\*[rgby]|flag|flagoff)\)|[:;][()PpDd]", "<emoticon>", text,
                  flags=re.IGNORECASE)
    text = re.sub(r"(?<!\S)---(?!\S)", "\u2014", text)
    text = re.sub(r"(?<!\S)--(?!\S)", "\u2013", text)
    for mark in ("??", "*", "_", "-", "+", "^", "~"):
        m = re.escape(mark)
        text = re.sub(rf"(?<!\w){m}(?=\S)(.+?)(?<=\S){m}(?!\w)", r"<em>\1</em>", text)
    return unhold(text)


@given(TEXT)
def test_wiki_renders_as_the_original_text(text: str) -> None:
    assert render_wiki(text_to_wiki(text)) == normalise_text(text)


_WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789"), min_size=3, max_size=8).filter(
    lambda w: w.lower() not in {"off", "flag", "flagoff"}
)
_TOKEN = st.one_of(
    _WORD,
    st.lists(_WORD, min_size=2, max_size=3).map("-".join),  # agent-note-1
    st.lists(_WORD, min_size=2, max_size=3).map(".".join),  # v1.2.3, example.com
    _WORD.map(lambda w: f"({w})"),
    st.lists(_WORD, min_size=2, max_size=3).map(lambda ws: "(" + "-".join(ws) + ")"),
    _WORD.map(lambda w: w + "."),
    _WORD.map(lambda w: w + ","),
    st.just("-"),  # a dash between words
)
PROSE = st.lists(_TOKEN, min_size=1, max_size=20).map(" ".join).filter(lambda t: not t.startswith("-"))


@given(PROSE)
def test_plain_prose_is_written_without_backslashes(text: str) -> None:
    wiki = text_to_wiki(text)
    assert "\\" not in wiki
    assert wiki == text
    assert render_wiki(wiki) == text


@pytest.mark.parametrize(
    ("text", "wiki"),
    [
        ("(agent-note-1) done.", "(agent-note-1) done."),
        ("*bold* and _it_", "\\*bold* and \\_it_"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("{code} {{mono}} {\"json\": 1}", "\\{code} \\{\\{mono}} {\"json\": 1}"),
        ("[link] [~dana]", "\\[link] \\[~dana]"),
        ("| not a table", "\\| not a table"),
        ("# not a list", "\\# not a list"),
        ("h1. not a heading", "h1\\. not a heading"),
        ("bq. not a quote", "bq\\. not a quote"),
        ("!image.png!", "\\!image.png!"),
        ("??cite?? +ins+ ^sup^ ~sub~ -del-", "\\??cite?? \\+ins+ \\^sup^ \\~sub~ \\-del-"),
        ("ok (y) :) f(x)", "ok \\(y) \\:) f\\(x)"),
        ("a -- b", "a \\-- b"),
        ("5 - 3 - 1", "5 - 3 - 1"),
    ],
)
def test_only_markup_is_escaped(text: str, wiki: str) -> None:
    assert text_to_wiki(text) == wiki
    assert render_wiki(wiki) == text
