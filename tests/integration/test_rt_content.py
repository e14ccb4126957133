"""RT message text read the way a person reads it, against a real Request Tracker 5 (issue 16).

Messages are written through REST2 the way RT's web editor and mail gateway store them: HTML bodies, files
attached as MIME parts (``Attachments`` with base64 ``FileContent``, REST2 docs "Add Attachments").
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ruamel.yaml import YAML

from bridge.connectors.memory import MemoryJira
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side
from bridge.store import Store
from bridge.sync.cycle import run_cycle
from bridge.sync.engine import Engine, EngineOptions
from tests.fixtures.rt_contract import engine_mapping

if TYPE_CHECKING:
    from tests.fixtures.rt import RTPerson, RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8).decode()


def post(person: RTPerson, path: str, body: dict[str, Any]) -> Any:
    response = person.session.post(
        f"{person.rest}/{path}", json=body, headers={"Authorization": f"token {person.token}"}, timeout=30
    )
    assert response.status_code == 201, f"POST {path} -> {response.status_code}: {response.text}"
    return response


def message(person: RTPerson, ticket: str, kind: str, html: str | None, files: dict[str, tuple[str, bytes]]) -> str:
    """A comment or reply with an optional HTML body and attached files; returns its transaction id."""
    body: dict[str, Any] = {}
    if html is not None:
        body.update(Content=html, ContentType="text/html")
    if files:
        body["Attachments"] = [
            {"FileName": name, "FileType": kind_, "FileContent": base64.b64encode(data).decode()}
            for name, (kind_, data) in files.items()
        ]
    response = post(person, f"ticket/{ticket}/{kind}", body)
    return str(response.headers["Location"]).rstrip("/").rsplit("/", 1)[-1]


def ref(queue: str, ticket: str) -> Ref:
    return Ref(Side.ITSM, queue, ticket, f"RT#{ticket}")


def test_html_comment_with_an_attached_log_mirrors_the_comment_not_the_file(rt_server: RTServer) -> None:
    agent = rt_server.person()
    ticket = agent.create_ticket("Login fails", queue=rt_server.queue)
    txn = message(agent, ticket, "comment",
                  '<p>The log is attached, see <a href="https://kb.example.test/42">KB 42</a>.</p>'
                  "<ul><li>first try</li><li>second try</li></ul>",
                  {"error.log": ("text/plain", b"user=sam password=hunter2\n")})
    connector = rt_server.connector()
    [comment] = connector.comments_since([ref(rt_server.queue, ticket)], None)[ticket]
    assert comment.id == txn
    assert comment.body == (
        "The log is attached, see KB 42 (https://kb.example.test/42).\n\n- first try\n- second try\n\n"
        "(attached: error.log)"
    )
    assert "hunter2" not in comment.body
    assert connector.calls.total == 2  # one transactions search, one attachments search


def test_image_only_reply_names_the_image(rt_server: RTServer) -> None:
    agent = rt_server.person()
    ticket = agent.create_ticket("Screen flickers", queue=rt_server.queue)
    message(agent, ticket, "correspond", None, {"screenshot.png": ("image/png", base64.b64decode(PNG))})
    [reply] = rt_server.connector().comments_since([ref(rt_server.queue, ticket)], None)[ticket]
    assert reply.body == "(attached: screenshot.png)"
    assert reply.channel == "correspond"


def test_plain_comment_with_two_files_lists_both(rt_server: RTServer) -> None:
    agent = rt_server.person()
    ticket = agent.create_ticket("Two files", queue=rt_server.queue)
    post(agent, f"ticket/{ticket}/comment", {
        "Content": "Both logs attached.", "ContentType": "text/plain",
        "Attachments": [
            {"FileName": "a.log", "FileType": "text/plain", "FileContent": base64.b64encode(b"secret-a").decode()},
            {"FileName": "b.png", "FileType": "image/png", "FileContent": PNG},
        ],
    })
    [comment] = rt_server.connector().comments_since([ref(rt_server.queue, ticket)], None)[ticket]
    assert comment.body == "Both logs attached.\n\n(attached: a.log, b.png)"


def shipped_description_rule() -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load((ROOT / "mappings" / "rt-incident-to-bug.yaml").read_text())
    return dict(data["fields"]["description"])


def test_first_message_becomes_the_description_and_not_a_comment(rt_server: RTServer, tmp_path: Path) -> None:
    queue = rt_server.take_queue()
    agent = rt_server.person()
    base = engine_mapping(queue).model_dump(mode="json", exclude_unset=True)
    base["fields"]["description"] = shipped_description_rule()
    spec = MappingSpec.model_validate(base)
    response = post(agent, "ticket", {
        "Queue": queue, "Subject": "Printer on fire", "Requestor": "customer@example.test",
        "CustomFields": {"Severity": "high"},
        "Content": '<p>My printer is <b>on fire</b>.</p><p>Manual: <a href="https://printers.test/m">here</a></p>',
        "ContentType": "text/html",
        "Attachments": [{"FileName": "photo.png", "FileType": "image/png", "FileContent": PNG}],
    })
    ticket = str(response.json()["id"])
    agent.comment(ticket, "Internal: customer is a VIP")
    jira = MemoryJira(clock=lambda: datetime.now(UTC))
    connector = rt_server.connector()
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.sqlite3'}")
    try:
        engine = Engine(store, connector, jira, [spec], options=EngineOptions(backoff_base=0.1))
        run_cycle(engine, spec.name)
        link = store.link_for_record(spec.name, ticket)
        assert link is not None
        description = str(jira.issue(link.issue).fields.get("description"))
        assert description.startswith(
            "My printer is on fire.\n\nManual: here (https://printers.test/m)\n\n(attached: photo.png)\n\n"
            f"Escalated from Request Tracker ticket RT#{ticket}"
        ), description
        bodies = [c.body for c in jira.comments(link.issue)]
        assert any("customer is a VIP" in b for b in bodies), bodies
        assert not any("on fire" in b for b in bodies), bodies  # the first message is not also a comment
    finally:
        store.close()
