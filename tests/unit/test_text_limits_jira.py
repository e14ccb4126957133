"""Jira's text limits over real HTTP, on Cloud and Data Center: the sandbox refuses as Jira does, bridge cuts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
import requests

from bridge.connectors.base import CreateSpec
from bridge.connectors.jira_text import text_to_adf
from bridge.mapping.context import to_jira_context
from bridge.mapping.schema import DEFAULT_TRUNCATION_NOTICE, CommentRules, FieldRule
from bridge.mapping.transform import project_value
from bridge.model import Comment, Marker, Ref, Side
from bridge.sync.comments import mirror_body
from bridge.text_limits import omitted_in

pytestmark = pytest.mark.slow

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]

RECORD = Ref(Side.ITSM, "incident", "sys42", "INC0010042", "https://sn.example/incident.do?sys_id=sys42")
TOO_LONG = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."


def _rich(env: JiraEnv, text: str) -> object:
    return text_to_adf(text) if env.mode == "cloud" else text


def test_the_sandbox_refuses_over_limit_rich_text_and_comments_as_jira_does(jira_env: JiraEnv) -> None:
    fields = {"project": {"key": "OPS"}, "issuetype": {"name": "Bug"}, "summary": "s", "labels": ["bridge"]}
    api = f"{jira_env.api}/issue"
    over = requests.post(api, json={"fields": {**fields, "description": _rich(jira_env, "a" * 40_000)}},
                         auth=jira_env.auth, timeout=10)
    assert over.status_code == 400
    assert over.json()["errors"] == {"description": TOO_LONG}
    created = requests.post(api, json={"fields": fields}, auth=jira_env.auth, timeout=10)
    assert created.status_code == 201
    comment = requests.post(f"{api}/{created.json()['key']}/comment", json={"body": _rich(jira_env, "b" * 40_000)},
                            auth=jira_env.auth, timeout=10)
    assert comment.status_code == 400
    assert comment.json()["errors"] == {"comment": TOO_LONG}
    summary = requests.post(api, json={"fields": {**fields, "summary": "s" * 256}}, auth=jira_env.auth, timeout=10)
    assert summary.status_code == 400
    assert summary.json()["errors"] == {"summary": "Summary must be less than 255 characters."}


def test_a_100000_character_description_and_a_40000_character_comment_reach_jira_cut_with_a_notice(
    jira_env: JiraEnv,
) -> None:
    log = "".join(f"2026-12-03 12:00:{n % 60:02d} *ERROR* [worker-{n}] {{timeout}} talking to db-{n % 7}\n"
                  for n in range(1600))
    description = (log * 2)[:100_000]
    fields = {"description": description, "summary": "Portal down " * 40}
    context = to_jira_context(fields, RECORD)
    projected = {
        key: project_value(key, FieldRule(itsm=key), fields, context, notice_template=DEFAULT_TRUNCATION_NOTICE)
        for key in fields
    }
    connector = jira_env.connector()
    issue = connector.create(
        CreateSpec(project="OPS", issue_type="Bug", fields=projected, marker=RECORD.token, labels=("bridge",))
    )
    stored = connector.get(issue.ref, ["description", "summary"])
    text = str(stored.fields["description"])
    kept, omitted = omitted_in(text)
    assert description.startswith(kept)
    assert omitted == len(description) - len(kept)
    assert text.endswith(f"more characters in INC0010042: {RECORD.url})")
    assert len(str(stored.fields["summary"])) <= 255

    itsm_comment = Comment(id="j1", parent=RECORD, author="Sam Support", body="c" * 20 + "\n" + "{x} *y* " * 5000,
                           created=datetime(2026, 12, 3, tzinfo=UTC), channel="work_notes")
    assert len(itsm_comment.body) > 40_000
    body = mirror_body(itsm_comment, CommentRules(), system="ServiceNow", record=RECORD)
    written = connector.add_comment(issue.ref, body, channel="comment", marker=Marker(Side.ITSM, "j1"))
    [read] = [c for c in connector.comments_since([issue.ref], None)[issue.ref.id] if c.id == written.id]
    assert read.body.startswith("Sam Support (ServiceNow) wrote:\ncccc")
    assert "more characters in INC0010042" in read.body.rsplit("\n", 1)[1]
    assert read.marker == Marker(Side.ITSM, "j1")
