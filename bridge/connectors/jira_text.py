"""Plain text ↔ Atlassian Document Format (Cloud v3) and ↔ wiki markup (Data Center v2).

Why a converter of our own: bridge moves *plain text* between an ITSM and Jira, and two things must hold.
Structure people rely on survives (paragraphs, line breaks, ``- `` bullet and ``1.`` numbered lists,
fenced code blocks); and record text never turns into markup — an incident that says ``*urgent*`` or
``{color:red}`` must read exactly so in Jira. ADF text nodes are literal by construction; in wiki markup
only what Jira would render as markup gets a backslash, so ``(agent-note-1)`` stays as typed (a developer
editing a mirrored comment sees the text, and text search finds its words). Both round-trip:
``adf_to_text(text_to_adf(t)) == normalise_text(t)`` and ``wiki_to_text(text_to_wiki(t)) == normalise_text(t)``
(hypothesis tests hold us to it, and to wiki that renders as the original text).

The plain-text grammar (shared by both directions):

* blocks are separated by blank lines; inside a block, lines are kept as line breaks;
* a block whose every line is ``- item`` is a bullet list; whose lines are ``1. a``, ``2. b`` … numbered
  consecutively is a numbered list (ADF keeps the start number; wiki lists always start at 1, so other
  starts stay literal text there);
* a block starting with a fence line (```` ``` ```` plus an optional language) up to a closing fence line
  followed by a blank line or the end is a code block; its content is kept verbatim.

ADF reference: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/ ; wiki:
https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all .
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bridge.text_limits import NOTICE_RE, fit, format_count, omitted_in
from bridge.vendors.jira import MAX_TEXT_LENGTH

_FENCE_OPEN = re.compile(r"^```([A-Za-z0-9_+#.-]*)$")
_BULLET = re.compile(r"^- (.*\S.*)$")
_NUMBERED = re.compile(r"^(\d{1,9})\. (.*\S.*)$")


def normalise_text(text: str) -> str:
    """The whitespace-normal form conversions preserve: LF line ends, no trailing blanks, ≤1 empty line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    lines = text.strip("\n").split("\n")
    # A fenced block holding nothing but a blank line is an empty code block: neither ADF (no empty
    # text nodes) nor wiki markup ({noformat} trims its edges) can carry that lone blank line.
    i = 0
    while i + 2 < len(lines):
        closes = lines[i + 2] == "```" and (i + 3 == len(lines) or not lines[i + 3])
        if _FENCE_OPEN.match(lines[i]) and not lines[i + 1] and closes:
            del lines[i + 1]
        i += 1
    return "\n".join(lines)


@dataclass(frozen=True)
class Block:
    kind: str  # paragraph | bullets | numbered | code
    lines: tuple[str, ...]
    start: int = 1
    language: str = ""


def parse_blocks(text: str, *, numbered_from_one: bool = False) -> Iterator[Block]:
    """Split normalised plain text into blocks following the grammar in the module docstring."""
    lines = normalise_text(text).split("\n")
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        fence = _FENCE_OPEN.match(lines[i])
        if fence:
            close = next(
                (
                    j
                    for j in range(i + 1, len(lines))
                    if lines[j] == "```" and (j + 1 == len(lines) or not lines[j + 1])
                ),
                None,
            )
            if close is not None:
                yield Block("code", tuple(lines[i + 1 : close]), language=fence.group(1))
                i = close + 1
                continue
        j = i
        while j < len(lines) and lines[j]:
            j += 1
        block = lines[i:j]
        i = j
        if all(_BULLET.match(line) for line in block):
            yield Block("bullets", tuple(_BULLET.match(line).group(1) for line in block))  # type: ignore[union-attr]
            continue
        numbers = [_NUMBERED.match(line) for line in block]
        if all(numbers):
            first = int(numbers[0].group(1))  # type: ignore[union-attr]
            consecutive = all(int(m.group(1)) == first + k for k, m in enumerate(numbers))  # type: ignore[union-attr]
            if consecutive and str(first) == numbers[0].group(1) and (first == 1 or not numbered_from_one):  # type: ignore[union-attr]
                yield Block("numbered", tuple(m.group(2) for m in numbers), start=first)  # type: ignore[union-attr]
                continue
        yield Block("paragraph", tuple(block))


# ------------------------------------------------------------------------------------------- ADF


def _text_node(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _paragraph(lines: tuple[str, ...] | list[str]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for k, line in enumerate(lines):
        if k:
            content.append({"type": "hardBreak"})
        if line:
            content.append(_text_node(line))  # ADF text nodes must not be empty
    return {"type": "paragraph", "content": content}


def text_to_adf(text: str) -> dict[str, Any]:
    """Plain text → an ADF ``doc``; every character of ``text`` lands in a literal text node."""
    content: list[dict[str, Any]] = []
    for block in parse_blocks(text):
        if block.kind == "code":
            node: dict[str, Any] = {"type": "codeBlock", "content": []}
            if block.language:
                node["attrs"] = {"language": block.language}
            code = "\n".join(block.lines)
            if code:
                node["content"] = [_text_node(code)]
            content.append(node)
        elif block.kind in ("bullets", "numbered"):
            items = [{"type": "listItem", "content": [_paragraph([line])]} for line in block.lines]
            if block.kind == "bullets":
                content.append({"type": "bulletList", "content": items})
            else:
                content.append({"type": "orderedList", "attrs": {"order": block.start}, "content": items})
        else:
            content.append(_paragraph(block.lines))
    return {"type": "doc", "version": 1, "content": content}


def _inline(nodes: list[Any] | None) -> str:
    out: list[str] = []
    for node in nodes or []:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        attrs = node.get("attrs") or {}
        if kind == "text":
            text = str(node.get("text", ""))
            href = next(
                (m.get("attrs", {}).get("href") for m in node.get("marks") or [] if m.get("type") == "link"), None
            )
            out.append(f"{text} ({href})" if href and href != text else text)
        elif kind == "hardBreak":
            out.append("\n")
        elif kind == "mention":
            name = str(attrs.get("text") or attrs.get("id") or "")
            out.append(name if name.startswith("@") else f"@{name}")
        elif kind == "emoji":
            out.append(str(attrs.get("text") or attrs.get("shortName") or ""))
        elif kind in ("inlineCard", "blockCard"):
            out.append(str(attrs.get("url") or ""))
        elif kind == "status":
            out.append(f"[{attrs.get('text', '')}]")
        elif kind == "date":
            out.append(str(attrs.get("timestamp", "")))
        else:
            out.append(_inline(node.get("content")))
    return "".join(out)


def _blocks_to_text(nodes: list[Any] | None) -> list[str]:
    parts: list[str] = []
    for node in nodes or []:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind in ("paragraph", "heading"):
            text = _inline(node.get("content"))
            if text.strip():
                parts.append(text)
        elif kind == "codeBlock":
            language = (node.get("attrs") or {}).get("language") or ""
            code = _inline(node.get("content"))
            parts.append(f"```{language}\n{code}\n```" if code else f"```{language}\n```")
        elif kind in ("bulletList", "orderedList"):
            start = int((node.get("attrs") or {}).get("order") or 1)
            lines = []
            for k, item in enumerate(node.get("content") or []):
                text = "\n".join(_blocks_to_text(item.get("content") if isinstance(item, dict) else None))
                prefix = "- " if kind == "bulletList" else f"{start + k}. "
                lines.append(prefix + text.replace("\n", "\n  "))
            parts.append("\n".join(lines))
        elif kind == "blockquote":
            inner = "\n\n".join(_blocks_to_text(node.get("content")))
            parts.append("\n".join("> " + line if line else ">" for line in inner.split("\n")))
        elif kind == "rule":
            parts.append("---")
        elif kind == "table":
            rows = []
            for row in node.get("content") or []:
                cells = [" ".join(_blocks_to_text(cell.get("content"))) for cell in row.get("content") or []]
                rows.append(" | ".join(cells))
            parts.append("\n".join(rows))
        elif kind in ("mediaSingle", "mediaGroup"):
            parts.append("[attachment]")
        else:
            blocks = _blocks_to_text(node.get("content"))
            if blocks:
                parts.append("\n\n".join(blocks))
            elif node.get("type") == "text":
                parts.append(str(node.get("text", "")))
    return parts


def adf_to_text(doc: Any) -> str:
    """An ADF document (or ``None``/a string) → normalised plain text in the grammar above."""
    if doc is None:
        return ""
    if isinstance(doc, str):
        return normalise_text(doc)
    if not isinstance(doc, dict):
        return ""
    return normalise_text("\n\n".join(_blocks_to_text(doc.get("content"))))


# ------------------------------------------------------------------------------------------ wiki

# Wiki escaping: only what Jira's renderer would read as markup gets a backslash, so mirrored prose stays
# readable and searchable when a developer opens it in the editor. What counts as markup follows Atlassian's
# text formatting notation (https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all),
# read conservatively: when in doubt, escape.
_ENTITY = re.compile(r"&(#\d+|amp|lt|gt|quot);")
_URL = re.compile(r"(?<![A-Za-z0-9])https?://[A-Za-z0-9._~:/?@!$'()*+,=%-]+")  # as wiki_to_text finds them
#: Phrase markup: *strong* _emphasis_ -deleted- +inserted+ ^superscript^ ~subscript~ (??citation?? apart).
_PHRASE = "*_-+^~"
#: Emoticons Jira turns into pictures wherever they appear (notation help, "Misc").
_EMOTICON = re.compile(
    r"\((?:y|n|i|/|x|!|\+|-|\?|on|off|\*|\*r|\*g|\*b|\*y|flag|flagoff)\)|[:;][()PpDd]", re.IGNORECASE
)
#: A line starting so is a list item (``*``, ``-``, ``#`` runs), a table row (``|``) or a horizontal rule.
_LINE_MARKUP = re.compile(r"^(\s*)([*#-]+(?=\s|$)|\|)")
_BLOCK_PREFIX = re.compile(r"^(\s*)(h[1-6]|bq)\.", re.IGNORECASE)
_DASHES = re.compile(r"(?<!\S)-{2,}(?!\S)")  # ` -- ` is an en dash, ` --- ` an em dash


def _is_word(ch: str) -> bool:
    return bool(re.match(r"\w", ch))


def _escaped_positions(line: str, urls: list[tuple[int, int]]) -> set[int]:
    """Indexes of the characters of ``line`` that would start markup unescaped."""
    inside_url = {i for start, end in urls for i in range(start, end)}
    marks: set[int] = set()
    match = _LINE_MARKUP.match(line)
    if match:
        marks.add(len(match.group(1)))
    for found in _DASHES.finditer(line):
        marks.add(found.start())
    for i, ch in enumerate(line):
        nxt = line[i + 1] if i + 1 < len(line) else ""
        if _EMOTICON.match(line, i):  # tried at every position: ":(i)" holds two
            marks.add(i)
        if ch in "[":
            marks.add(i)  # links, mentions [~user], anchors [#a], attachments [^file]
        elif ch == "{" and (nxt == "{" or nxt.isalpha()):
            marks.add(i)  # macros ({code}, {color:red}, {quote}, …) and {{monospace}}
        elif ch == "!" and "!" in re.split(r"\s", line[i + 1 :], maxsplit=1)[0][1:]:
            marks.add(i)  # !image.png! (an escaped "!" inside the run no longer ends it, so any later one)
    # Phrase openers: a mark after a non-word character (or an escaped one), before a non-space, with the
    # same mark later on the line after a non-space (a possible closer).
    previous_escaped = False
    for i, ch in enumerate(line):
        if i in inside_url:
            previous_escaped = True  # wiki_to_text holds a URL as one non-word placeholder
            continue
        if ch in _PHRASE or (ch == "?" and line.startswith("??", i)):
            width = 2 if ch == "?" else 1
            after = line[i + width] if i + width < len(line) else ""
            before_ok = i == 0 or previous_escaped or not _is_word(line[i - 1])
            token = line[i : i + width]
            closer = any(
                line.startswith(token, j) and not line[j - 1].isspace() for j in range(i + width + 1, len(line))
            )
            if before_ok and after and not after.isspace() and closer:
                marks.add(i)
        previous_escaped = i in marks or ch in "\\&"
    return marks - inside_url


def _escape_wiki_line(line: str) -> str:
    urls = [(m.start(), m.end()) for m in _URL.finditer(line)]
    marks = _escaped_positions(line, urls)
    out: list[str] = []
    url_at = dict(urls)
    i = 0
    while i < len(line):
        if i in url_at:
            out.append(line[i : url_at[i]])  # URLs stay verbatim so Jira still links them
            i = url_at[i]
            continue
        ch = line[i]
        if ch == "\\":
            out.append("&#92;")  # a double backslash is a forced line break in wiki markup: use an entity
        elif ch == "&" and _ENTITY.match(line, i):
            out.append("&#38;")  # a literal "&amp;" must not be read back as "&"
        elif i in marks:
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    # Line-start block markup that no single special character introduces: headings, quotes.
    return _BLOCK_PREFIX.sub(r"\1\2\\.", "".join(out))


def text_to_wiki(text: str) -> str:
    """Plain text → wiki markup that renders as exactly that text (structure kept, nothing injected)."""
    parts: list[str] = []
    for block in parse_blocks(text, numbered_from_one=True):
        if block.kind == "code":
            # {noformat} (or {code:lang} when the fence names a language) is verbatim; a literal closing
            # tag inside would end it early, so it is broken up with a zero-width space.
            tag = "code" if block.language else "noformat"
            opening = f"{{code:{block.language}}}" if block.language else "{noformat}"
            body = "\n".join(block.lines).replace(f"{{{tag}}}", f"{{{tag}\u200b}}")
            parts.append(f"{opening}\n{body}\n{{{tag}}}" if body else f"{opening}\n{{{tag}}}")
        elif block.kind == "bullets":
            parts.append("\n".join("* " + _escape_wiki_line(line) for line in block.lines))
        elif block.kind == "numbered":
            parts.append("\n".join("# " + _escape_wiki_line(line) for line in block.lines))
        else:
            parts.append("\n".join(_escape_wiki_line(line) for line in block.lines))
    return "\n\n".join(parts)


_PLACEHOLDER_BASE = 0xF0000  # Supplementary Private Use Area: never in record text we keep


def wiki_to_text(wiki: str | None) -> str:
    """Wiki markup (what DC returns for descriptions and comments) → plain text in the grammar above."""
    if not wiki:
        return ""
    text = wiki.replace("\r\n", "\n").replace("\r", "\n")
    escaped: list[str] = []
    verbatim: list[str] = []
    placeholders = f"[{chr(_PLACEHOLDER_BASE)}-{chr(_PLACEHOLDER_BASE + 0xFFFF)}]"

    def hold(ch: str) -> str:
        escaped.append(ch)
        return chr(_PLACEHOLDER_BASE + 0x8000 + len(escaped) - 1)

    def unhold(value: str) -> str:
        return re.sub(placeholders, lambda m: escaped[ord(m.group(0)) - _PLACEHOLDER_BASE - 0x8000], value)

    # 0. characters that look like our placeholders are held themselves.
    text = re.sub(placeholders, lambda m: hold(m.group(0)), text)

    # 1. verbatim blocks: {noformat} and {code[:lang]} become fences, untouched by the rest.
    def keep(match: re.Match[str]) -> str:
        language = ""
        if match.group(1) == "code" and match.group(2):
            language = match.group(2).lstrip(":").split("|")[0].split("=")[-1]
        body = unhold(re.sub(r"^\n|\n$", "", match.group(3)))
        body = body.replace("{noformat\u200b}", "{noformat}").replace("{code\u200b}", "{code}")
        verbatim.append(f"```{language}\n{body}\n```" if body else f"```{language}\n```")
        return chr(_PLACEHOLDER_BASE + len(verbatim) - 1)

    # A tag escaped with one backslash (``\{code}``) is literal text; a forced line break (``\\``) is not an escape.
    not_escaped = r"(?<!(?<!\\)\\)"
    text = re.sub(
        not_escaped + r"\{(noformat|code)(:[^}]*)?\}(.*?)" + not_escaped + r"\{\1\}", keep, text, flags=re.DOTALL
    )
    # 2. URLs and escapes become placeholders so markup stripping cannot touch them.
    text = re.sub(r"(?<![A-Za-z0-9])https?://[A-Za-z0-9._~:/?@!$'()*+,=%-]+", lambda m: hold(m.group(0)), text)
    text = text.replace("\\\\", "\n")  # a forced line break, before single escapes
    text = re.sub(r"\\([^\s\\])", lambda m: hold(m.group(1)), text)
    text = re.sub(r"&#(\d{1,7});", lambda m: hold(_char(m.group(1)) or m.group(0)), text)
    text = re.sub(
        r"&(amp|lt|gt|quot);", lambda m: hold({"amp": "&", "lt": "<", "gt": ">", "quot": '"'}[m.group(1)]), text
    )
    lines = []
    for line in text.split("\n"):
        line = re.sub(r"^\s*h[1-6]\.\s*", "", line)
        line = re.sub(r"^\s*bq\.\s*", "> ", line)
        line = re.sub(r"^\s*[*-]+ ", "- ", line)
        lines.append(line)
    text = "\n".join(lines)
    text = _numbered(text)
    text = re.sub(r"\{quote\}\n?", "", text)
    text = re.sub(r"\{color(:[^}]*)?\}", "", text)
    text = re.sub(r"\{panel(:[^}]*)?\}\n?", "", text)
    text = re.sub(r"\[~([^\]]+)\]", r"@\1", text)
    text = re.sub(r"\[([^\]|]+)\|([^\]]+)\]", lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = re.sub(r"\[([^\]|]+)\]", r"\1", text)
    text = re.sub(r"\{\{(.+?)\}\}", r"\1", text)
    for mark in ("*", "_", "+", "-", "^", "~", "??"):
        token = re.escape(mark)
        text = re.sub(rf"(?<![\w{token}]){token}(?=\S)(.+?)(?<=\S){token}(?![\w{token}])", r"\1", text)
    text = re.sub(r"^\|\|?(.*?)\|?\|?$", lambda m: " | ".join(re.split(r"\|\|?", m.group(1))), text, flags=re.M)
    text = re.sub(r"!([^!\s]+)!", "[attachment]", text)

    def restore(ch: str) -> str:
        code = ord(ch)
        if code >= _PLACEHOLDER_BASE + 0x8000:
            return escaped[code - _PLACEHOLDER_BASE - 0x8000]
        return verbatim[code - _PLACEHOLDER_BASE]

    text = re.sub(placeholders, lambda m: restore(m.group(0)), text)
    return normalise_text(text)


def _char(code: str) -> str | None:
    value = int(code)
    return chr(value) if value < 0x110000 and not 0xD800 <= value <= 0xDFFF else None


def _numbered(text: str) -> str:
    """Wiki ``# item`` lines → ``1. item`` numbering restarting for each list."""
    out = []
    counter = 0
    for line in text.split("\n"):
        match = re.match(r"^\s*#+ (.*)$", line)
        if match:
            counter += 1
            out.append(f"{counter}. {match.group(1)}")
        else:
            counter = 0
            out.append(line)
    return "\n".join(out)


# ------------------------------------------------------------------------------------------ limits


def adf_size(doc: Any) -> int:
    """Characters of an ADF document as sent (compact JSON): what bridge counts against Jira's limit.

    Cloud stores rich text as the ADF JSON; its structure (one node per paragraph, line break, list item)
    is never shorter than the text it holds, so counting the JSON keeps bridge on the safe side.
    """
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))


def converted_size(text: str, *, cloud: bool) -> int:
    """Length of ``text`` once converted to what Jira stores: ADF JSON on Cloud, wiki markup on DC."""
    return adf_size(text_to_adf(text)) if cloud else len(text_to_wiki(text))


def fit_for_jira(text: str, *, cloud: bool, limit: int = MAX_TEXT_LENGTH, reserve: int = 0) -> str:
    """``text`` cut so its converted form plus ``reserve`` characters stays within Jira's ``limit``.

    Jira refuses description, environment, textarea fields and comment bodies over 32,767 characters
    counted after conversion (docs/connectors/jira.md, "Text limits"): a text the mapping kept within the
    limit may still pass it once escaped or wrapped in ADF. A notice the mapping put at the end is kept
    (with its link) and states the new total; otherwise a plain notice is added.
    """
    budget = limit - reserve
    if converted_size(text, cloud=cloud) <= budget:
        return text
    _, before = omitted_in(text)
    found = NOTICE_RE.search(text)
    if found is not None and before:
        line = found.group(0).lstrip("\n")
        number = found.group(1)

        def notice(omitted: int) -> str:
            return line.replace(number, format_count(omitted), 1)
    else:

        def notice(omitted: int) -> str:
            return f"… (truncated by bridge: {format_count(omitted)} more characters)"

    return fit(text, budget, lambda candidate: converted_size(candidate, cloud=cloud), notice)
