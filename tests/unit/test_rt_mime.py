"""RT message text as a person reads it: the MIME walk and HTML→text (answers copied from RT 5.0.3)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bridge.connectors.http import HttpOptions
from bridge.connectors.rt import RTConnector
from bridge.connectors.rt_mime import Part, html_to_text, message_text, part_from_rest
from bridge.mapping.schema import Mapping
from bridge.model import Ref, Side

ROOT = "https://rt.example.test/rt"
REST = f"{ROOT}/REST/2.0"
REF = Ref(Side.ITSM, "Incidents", "7", "RT#7")


def connector() -> RTConnector:
    options = HttpOptions(base_url="ignored", max_attempts=2, backoff_base=0.0, requests_per_second=1000, burst=1000)
    return RTConnector(ROOT, token=SecretStr("1-14-secret"), options=options, bridge_user="bridge")


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(items), "page": 1, "per_page": 100, "pages": None, "total": None, "items": items}


def attachment(
    att_id: int, txn: str, content_type: str, content: str, headers: str, filename: str = ""
) -> dict[str, Any]:
    return {"id": str(att_id), "type": "attachment", "TransactionId": txn, "ContentType": content_type,
            "Filename": filename, "Headers": headers, "Content": content}


# What RT 5.0.3 stores for a REST2 comment in HTML with a text file attached (its web editor writes the same).
HTML_WITH_LOG = [
    attachment(5, "42", "multipart/mixed", "",
               'Content-Type: multipart/mixed; boundary="----------=_1"\nMIME-Version: 1.0\nContent-Length: 0'),
    attachment(6, "42", "text/html", "<p>See the <b>log</b></p>",
               'Content-Type: text/html; charset="utf-8"\nContent-Disposition: inline\nContent-Length: 25'),
    attachment(7, "42", "text/plain", "password=hunter2\n",
               'Content-Disposition: inline; filename="error.log"\nContent-Type: text/plain; charset="utf-8"; '
               'name="error.log"\nContent-Length: 17', filename="error.log"),
]
# An image-only reply: RT adds an empty, nameless application/octet-stream body part.
IMAGE_ONLY = [
    attachment(8, "43", "multipart/mixed", "", "Content-Type: multipart/mixed\nContent-Length: 0"),
    attachment(9, "43", "application/octet-stream", "", "Content-Type: application/octet-stream\nContent-Length: 0"),
    attachment(10, "43", "image/png", "\u0000\u0001PNG",
               'Content-Disposition: inline; filename="screenshot.png"\nContent-Type: image/png; name="screenshot.png"'
               "\nContent-Length: 1024", filename="screenshot.png"),
]


def parts(items: list[dict[str, Any]]) -> list[Part]:
    return [part_from_rest(item) for item in items]


def test_an_attached_text_file_is_never_the_body() -> None:
    assert message_text(parts(HTML_WITH_LOG)) == "See the log\n\n(attached: error.log)"


def test_an_image_only_reply_names_the_image() -> None:
    assert message_text(parts(IMAGE_ONLY)) == "(attached: screenshot.png)"


def test_a_file_is_recognised_by_disposition_or_header_name_alone() -> None:
    by_disposition = part_from_rest({"id": 1, "TransactionId": "1", "ContentType": "text/plain", "Content": "x",
                                     "Headers": 'Content-Disposition: attachment; filename="a.txt"'})
    by_name = part_from_rest({"id": 2, "TransactionId": "1", "ContentType": "text/plain", "Content": "y",
                              "Headers": 'Content-Type: text/plain; name="b.txt"'})
    body = part_from_rest({"id": 3, "TransactionId": "1", "ContentType": "text/plain", "Content": "the text",
                           "Headers": "Content-Type: text/plain\nContent-Disposition: inline"})
    assert (by_disposition.is_file, by_disposition.filename) == (True, "a.txt")
    assert (by_name.is_file, by_name.filename) == (True, "b.txt")
    assert not body.is_file
    assert message_text([by_disposition, by_name, body]) == "the text\n\n(attached: a.txt, b.txt)"


def test_plain_body_wins_over_its_html_alternative_and_blank_parts_are_skipped() -> None:
    items = [
        {"id": 1, "TransactionId": "1", "ContentType": "multipart/alternative", "Content": ""},
        {"id": 2, "TransactionId": "1", "ContentType": "text/plain", "Content": "  \n"},
        {"id": 3, "TransactionId": "1", "ContentType": "text/html", "Content": "<p>html <i>text</i></p>"},
        {"id": 4, "TransactionId": "1", "ContentType": "text/plain", "Content": "plain text"},
    ]
    assert message_text(parts(items)) == "plain text"
    assert message_text(parts(items[:3])) == "html text"


def test_a_message_without_parts_is_empty() -> None:
    assert message_text([]) == ""


def test_attachment_endpoint_content_is_base64() -> None:
    item = {"id": 6, "TransactionId": "42", "ContentType": "text/plain", "Headers": "Content-Type: text/plain",
            "Content": base64.b64encode("Grüße".encode()).decode()}
    assert part_from_rest(item, base64_content=True).content == "Grüße"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello <b>world</b><br>line 2 &amp; more</p>", "Hello world\nline 2 & more"),
        ('<p>See <a href="https://kb.test/a?b=1">the runbook</a>.</p><p>Next</p>',
         "See the runbook (https://kb.test/a?b=1).\n\nNext"),
        ('<a href="https://kb.test">https://kb.test</a>', "https://kb.test"),
        ('mail <a href="mailto:a@b.test">a@b.test</a>', "mail a@b.test"),
        ("<p>Steps:</p><ol><li>one</li><li>two</li></ol><ul><li>a<ul><li>deep</li></ul></li><li>b</li></ul>",
         "Steps:\n\n1. one\n2. two\n\n- a\n  - deep\n- b"),
        ("<div>line1</div><div>line2</div><div><br></div><div>after a blank line</div>",
         "line1\nline2\n\nafter a blank line"),
        ("<p>a<br><br>b</p>", "a\n\nb"),
        ("<html><head><title>t</title><style>p {}</style></head><body><p>x&nbsp;&nbsp;y</p></body></html>", "x  y"),
        ("<pre>code\n  indented</pre>", "```\ncode\n  indented\n```"),
        ("<blockquote><p>quoted</p></blockquote><p>reply</p>", "> quoted\n\nreply"),
        ("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>", "a | b\n1 | 2"),
        ("<p>\n  wrapped\n  source\n</p>", "wrapped source"),
        ("<ul><li><p>para item</p></li><li><div>div item</div></li></ul><p>after</p>",
         "- para item\n- div item\n\nafter"),
    ],
)
def test_html_reads_as_a_person_reads_it(html: str, text: str) -> None:
    assert html_to_text(html) == text


# ----------------------------------------------------------------------------- through the connector


@responses.activate
def test_comments_walk_the_mime_tree_in_two_calls() -> None:
    responses.get(f"{REST}/transactions", json=page([
        {"id": "42", "Type": "Comment", "ObjectId": "7", "Created": "2026-11-23T14:50:33Z",
         "Creator": {"id": "agent", "type": "user"}},
        {"id": "43", "Type": "Correspond", "ObjectId": "7", "Created": "2026-11-23T14:50:34Z",
         "Creator": {"id": "sam", "type": "user"}},
    ]))
    responses.get(f"{REST}/attachments", json=page(HTML_WITH_LOG + IMAGE_ONLY))
    rt = connector()
    comments = rt.comments_since([REF], None)["7"]
    assert [(c.id, c.body) for c in comments] == [
        ("42", "See the log\n\n(attached: error.log)"),
        ("43", "(attached: screenshot.png)"),
    ]
    assert all("hunter2" not in c.body for c in comments)
    fields = parse_qs(urlparse(responses.calls[1].request.url).query)["fields"][0].split(",")
    assert {"Headers", "Filename", "ContentType", "Content", "TransactionId"} <= set(fields)
    assert rt.calls.total == 2


def mapping(template: str, sync: str = "create") -> Mapping:
    return Mapping.model_validate({
        "name": "rt-first",
        "route": {"record_type": "Incidents"},
        "target": {"project": "DEMO", "issue_type": "Bug"},
        "links": {"itsm_key_field": "CF.{Jira Key}"},
        "fields": {"description": {"template": template, "sync": sync}},
    })


def ticket(rt_id: str, key: str | None = None) -> dict[str, Any]:
    return {"id": rt_id, "Subject": f"T{rt_id}", "Status": "new", "Queue": {"id": "3", "Name": "Incidents"},
            "LastUpdated": "2026-11-23T13:21:09Z",
            "CustomFields": [{"id": "2", "name": "Jira Key", "values": [key] if key else []}]}


@responses.activate
def test_first_message_is_read_for_a_page_in_two_calls_and_cached() -> None:
    responses.get(f"{REST}/tickets", json=page([ticket("7"), ticket("8"), ticket("9", key="DEMO-1")]))
    responses.get(f"{REST}/transactions", json=page([
        {"id": "30", "Type": "Create", "ObjectId": "7"},
        {"id": "31", "Type": "Create", "ObjectId": "8"},
    ]))
    responses.get(f"{REST}/attachments", json=page([
        attachment(1, "30", "text/html", "<p>My printer <b>is on fire</b></p>", "Content-Type: text/html"),
        attachment(2, "31", "text/plain", "Second ticket\n", "Content-Type: text/plain"),
    ]))
    rt = connector()
    records = list(rt.search_changed(mapping("{{ record.first_message }}"), None, ["Subject"]))
    assert [(r.ref.id, r.first_message) for r in records] == [
        ("7", "My printer is on fire"),
        ("8", "Second ticket"),
        ("9", None),  # already linked and the template is sync: create: not read
    ]
    txn_query = parse_qs(urlparse(responses.calls[1].request.url).query)["query"][0]
    assert "(ObjectId = 7 OR ObjectId = 8)" in txn_query
    assert "Type = 'Create'" in txn_query
    assert rt.calls.snapshot() == {"GET /rt/REST/2.0/tickets": 1, "GET /rt/REST/2.0/transactions": 1,
                                   "GET /rt/REST/2.0/attachments": 1}
    again = list(rt.search_changed(mapping("{{ record.first_message }}"), datetime(2026, 1, 1, tzinfo=UTC),
                                   ["Subject"]))
    assert [r.first_message for r in again] == ["My printer is on fire", "Second ticket", None]
    assert rt.calls.total == 4  # the second search needed no first-message calls


@responses.activate
def test_first_message_is_not_read_when_no_template_uses_it() -> None:
    responses.get(f"{REST}/tickets", json=page([ticket("7")]))
    rt = connector()
    [record] = rt.search_changed(mapping("{{ Subject }}"), None, ["Subject"])
    assert record.first_message is None
    assert rt.calls.total == 1


@responses.activate
def test_first_message_is_read_for_linked_tickets_when_a_template_keeps_it_in_sync() -> None:
    responses.get(f"{REST}/tickets", json=page([ticket("9", key="DEMO-1")]))
    responses.get(f"{REST}/transactions", json=page([{"id": "30", "Type": "Create", "ObjectId": "9"}]))
    responses.get(f"{REST}/attachments", json=page([
        attachment(1, "30", "text/plain", "hello", "Content-Type: text/plain"),
    ]))
    [record] = connector().search_changed(mapping("{{ record.first_message }}", "always"), None, ["Subject"])
    assert record.first_message == "hello"
    assert json.loads(parse_qs(urlparse(responses.calls[2].request.url).query)["query"][0]) == [
        {"field": "TransactionId", "operator": "IN", "value": [30]}
    ]


HTML_PIECES = [*"<>/ab &;#\n\"'=", "<p>", "</p>", "<br>", "<li>", "</ul>", "<ol>", "<a href='u'>", "</a>", "<pre>",
               "</pre>", "<blockquote>", "&amp;", "<td>"]


@given(st.lists(st.sampled_from(HTML_PIECES), max_size=40).map("".join))
def test_any_html_reads_without_error_and_without_runs_of_blank_lines(html: str) -> None:
    text = html_to_text(html)
    assert "\n\n\n" not in text
    assert text == text.strip("\n")
