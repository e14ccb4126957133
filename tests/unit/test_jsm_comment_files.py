"""Files that come with a JSM comment keep their place (issue 16): a person's comment names the files it
carries in the mirrored text ("(attached: error.log)"), and a file bridge copies onto a request arrives
with an internal comment naming it that bridge never mirrors back. Cloud and Data Center (``jsm_env``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bridge.connectors.jsm_attachments import attachment_id, with_attached
from bridge.errors import PermanentError
from bridge.model import Comment, Marker, Ref, Side

if TYPE_CHECKING:
    from tests.fixtures.jsm_sandbox import JsmEnv

pytest_plugins = ["tests.fixtures.jsm_sandbox"]

REQUEST = Ref(Side.ITSM, "SUP", "10001", "SUP-1")


def comment(body: str, marker: Marker | None = None) -> Comment:
    return Comment(id="1", parent=REQUEST, author="Sam", body=body, created=datetime(2026, 1, 1, tzinfo=UTC),
                   channel="public",
                   marker=marker)


def ref(env: JsmEnv, key: str) -> Ref:
    issue = next(i for i in env.sandbox.snapshot() if i["key"] == key)
    return Ref(Side.ITSM, "SUP", issue["id"], key, f"{env.url}/browse/{key}")


def test_the_files_line_replaces_the_bodys_placeholders() -> None:
    assert with_attached(comment("See the log\n\n[attachment]"), ["error.log"]).body == \
        "See the log\n\n(attached: error.log)"
    assert with_attached(comment("See the log\n\n^error.log\n\n^shot.png"), ["error.log", "shot.png"]).body == \
        "See the log\n\n(attached: error.log, shot.png)"
    assert with_attached(comment("[attachment]"), ["shot.png"]).body == "(attached: shot.png)"
    assert with_attached(comment("no files"), []).body == "no files"


def test_the_platform_id_of_a_file_comes_from_its_links() -> None:
    assert attachment_id({"_links": {"jiraRest": "https://x.example/rest/api/2/attachment/10007"}}) == "10007"
    assert attachment_id({"_links": {"content": "https://x.example/secure/attachment/10008/a.log"}}) == "10008"
    assert attachment_id({"_links": {}}) is None


@pytest.mark.slow
def test_a_comment_names_the_files_it_carries(jsm_env: JsmEnv) -> None:
    sandbox = jsm_env.sandbox
    key = sandbox.create_request("Printer", request_type="Report a bug", priority="High")
    sandbox.reply(key, "Here is the log", public=True, files=[("error.log", b"boom\n", "text/plain")])
    sandbox.reply(key, "", public=True, files=[("shot.png", b"\x89PNG", "image/png")])
    sandbox.reply(key, "No files here", public=False)
    connector = jsm_env.jsm()
    record = ref(jsm_env, key)
    read = connector.comments_since([record], None)[record.id]
    assert [(c.body, c.channel) for c in read] == [
        ("Here is the log\n\n(attached: error.log)", "public"),
        ("(attached: shot.png)", "public"),
        ("No files here", "internal"),
    ]
    assert sorted(a.filename for a in connector.list_attachments(record)) == ["error.log", "shot.png"]


@pytest.mark.slow
def test_a_request_with_only_bridges_comments_costs_no_extra_read(jsm_env: JsmEnv) -> None:
    sandbox = jsm_env.sandbox
    key = sandbox.create_request("Printer", request_type="Report a bug", priority="High")
    connector = jsm_env.jsm()
    record = ref(jsm_env, key)
    connector.add_comment(record, "Dana (Jira) wrote: on it", channel="internal", marker=Marker(Side.JIRA, "7"))
    before = connector.calls.snapshot()
    connector.comments_since([record], None)
    assert not any("servicedeskapi/request" in endpoint for endpoint in connector.calls.since(before))


@pytest.mark.slow
def test_a_copied_file_arrives_with_an_internal_note_that_is_never_mirrored(jsm_env: JsmEnv, tmp_path: Path) -> None:
    sandbox = jsm_env.sandbox
    key = sandbox.create_request("Printer", request_type="Report a bug", priority="High")
    connector = jsm_env.jsm()
    record = ref(jsm_env, key)
    path = tmp_path / "fix.patch"
    path.write_bytes(b"--- a\n+++ b\n" * 100)
    marker = Marker(Side.JIRA, "file-10042")
    made = connector.upload_attachment(record, path, filename="fix.patch", mime_type="text/x-patch", marker=marker)
    assert made.filename == "fix.patch"
    assert made.size == 1200
    [(meta, data)] = sandbox.files(key)
    assert (meta["id"], data) == (made.id, path.read_bytes())
    [note] = connector.comments_since([record], None)[record.id]
    assert note.marker == marker  # bridge's own: the planner never mirrors it
    assert note.channel == "internal"  # the customer does not get the developer's file
    assert note.body.startswith("fix.patch copied by bridge.")


@pytest.mark.slow
def test_a_file_over_the_sites_limit_is_refused_for_good(jsm_env: JsmEnv, tmp_path: Path) -> None:
    sandbox = jsm_env.sandbox
    sandbox.configure(attachment_max_size=100)
    key = sandbox.create_request("Printer", request_type="Report a bug", priority="High")
    path = tmp_path / "core.dump"
    path.write_bytes(b"x" * 500)
    with pytest.raises(PermanentError) as raised:
        jsm_env.jsm().upload_attachment(ref(jsm_env, key), path, filename="core.dump",
                                        mime_type="application/octet-stream", marker=Marker(Side.JIRA, "file-1"))
    assert raised.value.status == 413
    assert sandbox.files(key) == []
