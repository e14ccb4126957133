"""An RT transaction's text the way a person reads it in RT: the message body, not its attached files.

RT keeps a message as a tree of attachment records, one per MIME part, numbered depth-first (so ``id``
order is document order): a ``multipart/mixed`` root, the body (``text/plain``, or ``text/html`` when it
came from RT's rich-text editor), and one part per attached file. A ``text/plain`` *file* (a log) looks
like a plain body by content type alone; what tells them apart is the part's ``Content-Disposition:
attachment`` or its file name (``Filename``, or ``name=``/``filename=`` in the headers). Reading "the first
``text/plain`` part" therefore mirrors an attached log instead of the comment — which is why this module
exists. See "Comment text" in ``docs/connectors/rt.md``.

Rules, in order:

* the body is the first ``text/plain`` part that is not a file; else the first ``text/html`` part that is
  not a file, reduced to text (links kept as ``text (url)``, paragraphs, line breaks and lists kept);
* files never become the body; their names are listed after it: ``(attached: error.log, shot.png)``;
  a message with files only reads ``(attached: shot.png)``. RT gives such a message an empty, nameless
  ``application/octet-stream`` part; an empty nameless part is no file.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from html.parser import HTMLParser
from typing import Any

BODY_TYPES = ("text/plain", "text/html")


@dataclass(frozen=True, slots=True)
class Part:
    """One RT attachment record (one MIME part) of a transaction."""

    id: int
    transaction_id: str
    content_type: str  # lower case, without parameters
    filename: str | None = None
    disposition: str | None = None  # "attachment", "inline" or None
    content: str | None = None  # decoded text; None when not read
    size: int | None = None  # the Content-Length RT records in the part's headers

    @property
    def is_empty(self) -> bool:
        if self.content is not None:
            return not self.content
        return self.size == 0

    @property
    def is_container(self) -> bool:
        return self.content_type.startswith("multipart/")

    @property
    def is_file(self) -> bool:
        """A part a person sees as an attached file, never as the message text."""
        if self.is_container:
            return False
        if self.filename or self.disposition == "attachment":
            return True
        # RT gives a message that has only files an empty, nameless application/octet-stream body part.
        return self.content_type not in BODY_TYPES and not self.is_empty

    @property
    def may_be_body(self) -> bool:
        return self.content_type in BODY_TYPES and not self.is_file


def _headers(raw: Any) -> Message:
    return HeaderParser().parsestr(str(raw or "").replace("\r\n", "\n").strip("\n") + "\n\n")


def part_from_rest(item: Mapping[str, Any], *, base64_content: bool = False) -> Part:
    """A :class:`Part` from a REST2 attachment record (``TransactionId``, ``ContentType``, ``Filename``,
    ``Headers``, and ``Content`` when it was asked for).

    ``GET /attachment/{id}`` sends ``Content`` base64-encoded (``base64_content=True``); the attachments
    search sends it as text.
    """
    headers = _headers(item.get("Headers"))
    content_type = str(item.get("ContentType") or headers.get_content_type() or "").split(";")[0].strip().lower()
    filename = str(item.get("Filename") or "").strip() or headers.get_filename() or headers.get_param("name")
    disposition = headers.get_content_disposition()
    content = item.get("Content")
    text: str | None = None
    if isinstance(content, str):
        text = _decode_base64(content) if base64_content else content
    return Part(
        id=int(str(item.get("id") or 0)),
        transaction_id=str(item.get("TransactionId") or ""),
        content_type=content_type,
        filename=str(filename) if isinstance(filename, str) and filename.strip() else None,
        disposition=disposition,
        content=text,
        size=_size(headers.get("Content-Length")),
    )


def _size(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _decode_base64(value: str) -> str:
    try:
        return base64.b64decode(value, validate=False).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return value


def body_part(parts: Iterable[Part]) -> Part | None:
    """The part holding the message text: the first non-file ``text/plain``, else the first ``text/html``."""
    candidates = [p for p in sorted(parts, key=lambda p: p.id) if p.may_be_body]
    for wanted in BODY_TYPES:
        for part in candidates:
            if part.content_type == wanted and (part.content is None or part.content.strip()):
                return part
    return None


def file_names(parts: Iterable[Part]) -> list[str]:
    """The attached files' names in document order; a nameless part is named by its content type."""
    return [p.filename or p.content_type or "file" for p in sorted(parts, key=lambda p: p.id) if p.is_file]


def message_text(parts: Sequence[Part]) -> str:
    """The transaction's text as RT shows it: the body, then ``(attached: …)`` when files came with it."""
    body = body_part(parts)
    text = ""
    if body is not None and body.content:
        text = html_to_text(body.content) if body.content_type == "text/html" else body.content.strip("\n")
    files = file_names(parts)
    if files:
        note = f"(attached: {', '.join(files)})"
        text = f"{text.rstrip()}\n\n{note}" if text.strip() else note
    return text


def texts_by_transaction(parts: Iterable[Part]) -> dict[str, str]:
    """:func:`message_text` of every transaction the parts belong to."""
    grouped: dict[str, list[Part]] = {}
    for part in parts:
        grouped.setdefault(part.transaction_id, []).append(part)
    return {txn: message_text(group) for txn, group in grouped.items()}


# ------------------------------------------------------------------------------------------ HTML

_BLOCK_BREAKS = {
    "p": 2, "h1": 2, "h2": 2, "h3": 2, "h4": 2, "h5": 2, "h6": 2, "table": 2, "hr": 2, "blockquote": 2,
    "div": 1, "tr": 1, "dl": 2, "dt": 1, "dd": 1, "section": 2, "article": 2, "header": 2, "footer": 2,
}
_SKIPPED = {"script", "style", "head", "title", "template"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}


class _TextWriter(HTMLParser):
    """Builds plain text as a person reads the rendered HTML (see :func:`html_to_text`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.pending = 0  # line breaks owed before the next text
        self.at_line_start = True
        self.skip = 0
        self.pre = 0
        self.quote = 0
        self.lists: list[list[int]] = []  # per open list: [is_ordered, counter]
        self.links: list[tuple[str | None, list[str]]] = []
        self.cells = 0
        self._after_marker = False

    # -- output helpers
    def _break(self, count: int) -> None:
        if self.out and not self._after_marker:  # "<li><p>item</p>": the item's text stays on the marker's line
            self.pending = max(self.pending, count)

    def _emit(self, text: str) -> None:
        if not text:
            return
        if self.pending and self.out:
            self.out.append("\n" * self.pending)
            self.at_line_start = True
        self.pending = 0
        if self.at_line_start:
            if not self.pre:
                text = text.lstrip(" ")
                if not text:
                    return
            if self.quote:
                self.out.append("> " * self.quote)
        self.out.append(text)
        self.at_line_start = False
        self._after_marker = False
        for _, collected in self.links:
            collected.append(text)

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip += 1
            return
        if tag == "br":
            if self.out:
                self.pending = min(self.pending + 1, 2)
            return
        if tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)
            self.lists.append([tag == "ol", 0])
        elif tag == "li":
            self._break(1)
            depth = max(len(self.lists), 1)
            ordered, counter = self.lists[-1] if self.lists else (False, 0)
            marker = "- "
            if ordered:
                self.lists[-1][1] = counter + 1
                marker = f"{counter + 1}. "
            self._emit_raw_prefix("  " * (depth - 1) + marker)
        elif tag == "pre":
            self._break(2)
            self._emit_raw_prefix("```\n")
            self.pre += 1
        elif tag == "blockquote":
            self._break(2)
            self.quote += 1
        elif tag in ("td", "th"):
            if self.cells:
                self._emit(" | ")
            self.cells += 1
        elif tag == "a":
            href = dict(attrs).get("href")
            self.links.append((href, []))
        elif tag in _BLOCK_BREAKS:
            self._break(_BLOCK_BREAKS[tag])
            if tag == "tr":
                self.cells = 0
            if tag == "hr":
                self._emit("---")
                self._break(2)

    def _emit_raw_prefix(self, prefix: str) -> None:
        """A list marker or fence: emitted at a line start without the whitespace trimming text gets."""
        if self.pending and self.out:
            self.out.append("\n" * self.pending)
            self.at_line_start = True
        elif self.out and not self.at_line_start:
            self.out.append("\n")
        self.pending = 0
        if self.quote:
            self.out.append("> " * self.quote)
        self.out.append(prefix)
        self.at_line_start = prefix.endswith("\n")
        # a marker is not line start for the item text: its leading spaces are trimmed by handle_data
        self._after_marker = not self.at_line_start

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip = max(self.skip - 1, 0)
            return
        if tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag == "li":
            if self.out:
                self.pending = 1  # items are lines of one block, whatever paragraphs they hold
        elif tag == "pre":
            self.pre = max(self.pre - 1, 0)
            if self.out and not self.out[-1].endswith("\n"):
                self.out.append("\n")
            self.out.append("```")
            self.at_line_start = False
            self._break(2)
        elif tag == "blockquote":
            self.quote = max(self.quote - 1, 0)
            self._break(2)
        elif tag == "a" and self.links:
            href, collected = self.links.pop()
            shown = "".join(collected).strip()
            target = (href or "").strip()
            if target.lower().startswith("mailto:"):
                target = target[7:]
            if target and not target.startswith(("#", "javascript:")) and target != shown:
                self._emit(f" ({target})" if shown else target)
        elif tag in _BLOCK_BREAKS and tag != "hr":
            self._break(_BLOCK_BREAKS[tag])

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            self._emit(data.replace("\r\n", "\n"))
            return
        text = re.sub(r"[ \t\r\n\f]+", " ", data).replace("\xa0", " ")
        if self._after_marker:
            text = text.lstrip(" ")
            self._after_marker = False
        if self.at_line_start and not text.strip():
            return
        self._emit(text)

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self.out).split("\n")]
        joined = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", joined).strip("\n")


def html_to_text(html: str) -> str:
    """HTML (RT's rich-text editor, HTML mail) → plain text a person would read off the rendered page.

    Paragraphs and headings become blank-line-separated blocks, ``<br>`` a line break, list items
    ``- item`` / ``1. item``, ``<pre>`` a fenced block, links ``text (url)`` (just the URL when the text
    is the URL), table cells ``a | b``; scripts, styles and the head are dropped; entities decoded.
    """
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    return writer.text()
