"""A new issue without a read after its create (bridge/connectors/jira/created.py), over real HTTP against
the Jira sandbox in Cloud and Data Center modes.

The prediction must equal what a read of the new issue shows — values, status, workflow — for every kind of
field a mapping writes; when Jira stores something else than what was sent (a normalisation bridge does not
predict), the connector must read instead of taking its own payload for Jira's value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.connectors.base import CreateSpec
from bridge.connectors.jira.created import INITIAL_STATUS_TTL
from bridge.model import FieldValue, Item, Ref, Side

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]

#: one value of each kind the sandbox's catalogue offers: text, rich text (ADF on Cloud, wiki markup on DC,
#: with markup-like characters that must come back literally), a named object, a number, a textarea custom
#: field, labels and components
FIELDS: dict[str, FieldValue] = {
    "summary": "Printer *on fire* in [room] 4",
    "description": "Line one\n\nLine two with {code} and _under_ and a tab\tinside",
    "priority": "High",
    "Linked records": 3,
    "Customer Impact": "Two floors\n- cannot print",
    "ServiceNow Number": "INC0010042",
    "labels": ("ops-visible",),
    "components": ("Backend",),
}


def spec(n: int, **fields: FieldValue) -> CreateSpec:
    record = Ref(Side.ITSM, "incident", f"sys{n:04d}", f"INC{n:07d}", "")
    return CreateSpec(project="OPS", issue_type="Bug", fields={**FIELDS, **fields}, marker=record.token,
                      labels=("bridge",))


def same_as_read(created: Item, read: Item) -> None:
    assert created.ref == read.ref
    assert dict(created.fields) == dict(read.fields)
    assert (created.status, created.status_category) == (read.status, read.status_category)
    assert created.back_reference == read.back_reference


def gets(env: JiraEnv, counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k.startswith(f"GET {env.sandbox.api}/issue/"))


def test_the_second_create_of_a_pair_is_not_read_and_equals_a_read(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    first = connector.create(spec(1))
    assert gets(jira_env, connector.calls.snapshot()) == 1  # the first create of OPS/Bug is read back
    assert first.version
    assert first.status == "To Do"
    assert connector.initial_statuses() == {("OPS", "Bug"): ("To Do", "new")}
    before = connector.calls.snapshot()
    second = connector.create(spec(2))
    after = connector.calls.snapshot()
    assert gets(jira_env, after) == gets(jira_env, before)  # predicted: POST /issue alone
    assert sum(after.values()) - sum(before.values()) == 1
    assert second.version == ""  # unknown until the next change search reads it
    same_as_read(second, connector.get(second.ref, list(FIELDS)))
    # the walk of a SetStatus starts from the predicted status: no GET of the issue before it
    reader = jira_env.connector()
    reader.prime(connector.vendor_facts())
    reader.set_status(first.ref, "In Progress", {})  # learns OPS/Bug's workflow from To Do
    connector.prime(reader.vendor_facts())
    before = connector.calls.snapshot()
    connector.set_status(second.ref, "In Progress", {})
    moved = {k: v - before.get(k, 0) for k, v in connector.calls.snapshot().items() if v != before.get(k, 0)}
    assert moved == {f"POST {jira_env.sandbox.api}/issue/{{id}}/transitions": 1}


def test_bulk_creates_are_predicted_once_the_pair_was_read(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    connector.create(spec(1))
    before = connector.calls.snapshot()
    made = connector.create_many([spec(n) for n in range(2, 6)])
    spent = {k: v - before.get(k, 0) for k, v in connector.calls.snapshot().items() if v != before.get(k, 0)}
    assert spent == {f"POST {jira_env.sandbox.api}/issue/bulk": 1}  # no search to read them back
    for item in made:
        assert isinstance(item, Item)
        same_as_read(item, connector.get(item.ref, list(FIELDS)))


def test_a_normalisation_bridge_does_not_predict_is_read_not_taken_from_the_payload(jira_env: JiraEnv) -> None:
    """The sandbox set to store summaries trimmed: a payload it would change is read back, and the item
    bridge records carries Jira's value, not the one it sent (so no cycle mistakes one for an edit)."""
    jira_env.sandbox.configure(trim_summary=True)
    connector = jira_env.connector()
    connector.create(spec(1))  # learns OPS/Bug's initial status
    before = gets(jira_env, connector.calls.snapshot())
    padded = connector.create(spec(2, summary="  Printer on fire  "))
    assert gets(jira_env, connector.calls.snapshot()) == before + 1
    assert padded.fields["summary"] == "Printer on fire"
    assert padded.version
    same_as_read(padded, connector.get(padded.ref, list(FIELDS)))
    [bulk] = connector.create_many([spec(3, summary="Toner low ")])
    assert isinstance(bulk, Item)
    assert bulk.fields["summary"] == "Toner low"


def test_a_field_the_payload_leaves_to_jira_is_read(jira_env: JiraEnv) -> None:
    """The sandbox fills a default priority; a create whose mapping reads the priority without sending it
    is read back."""
    connector = jira_env.connector()
    connector.create(spec(1))
    before = gets(jira_env, connector.calls.snapshot())
    fields = {k: v for k, v in FIELDS.items() if k != "priority"}
    item = connector.create(CreateSpec("OPS", "Bug", fields, spec(2).marker, labels=("bridge",)))
    assert gets(jira_env, connector.calls.snapshot()) == before  # the mapping does not read the priority
    assert "priority" not in item.fields


def test_a_field_sent_empty_is_read_because_jira_may_fill_its_default(jira_env: JiraEnv) -> None:
    """A record without a priority sends the field empty; Jira may store its scheme's default (the project's
    default assignee likewise), so the create is read back and the link records what Jira holds."""
    connector = jira_env.connector()
    connector.create(spec(1))
    before = gets(jira_env, connector.calls.snapshot())
    item = connector.create(spec(2, priority=None))
    assert gets(jira_env, connector.calls.snapshot()) == before + 1
    assert item.version
    same_as_read(item, connector.get(item.ref, list(FIELDS)))


def test_a_learnt_initial_status_is_trusted_for_an_hour_then_learnt_again(jira_env: JiraEnv) -> None:
    """A running daemon sees an admin's new initial status within the hour: after it, one create of the
    pair is read back again."""
    connector = jira_env.connector()
    connector.create(spec(1))
    connector.create(spec(2))
    before = gets(jira_env, connector.calls.snapshot())
    connector._initial_learnt[("OPS", "Bug")] -= INITIAL_STATUS_TTL + 1  # learnt over an hour ago
    relearnt = connector.create(spec(3))
    assert gets(jira_env, connector.calls.snapshot()) == before + 1
    assert relearnt.version
    connector.create(spec(4))
    assert gets(jira_env, connector.calls.snapshot()) == before + 1  # trusted again for the next hour


def test_the_initial_status_is_learnt_only_from_an_unchanged_issue(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    moved = {"id": "1", "key": "OPS-1", "fields": {
        "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
        "created": "2026-03-10T09:30:15.000+0000", "updated": "2026-03-10T09:30:16.000+0000"}}
    connector._learn_initial(spec(1), moved)  # an automation rule moved it at once: not the initial status
    assert connector.initial_statuses() == {}
    fresh = {**moved, "fields": {**moved["fields"], "updated": moved["fields"]["created"],
                                 "status": {"name": "To Do", "statusCategory": {"key": "new"}}}}
    connector._learn_initial(spec(1), fresh)
    assert connector.initial_statuses() == {("OPS", "Bug"): ("To Do", "new")}


def test_learnt_facts_survive_a_new_process(jira_env: JiraEnv) -> None:
    """What one process learnt (initial status, workflow) primes the next: its first create and its first
    status change read nothing; a transition Jira has since changed is learnt again."""
    first = jira_env.connector()
    issue = first.create(spec(1))
    first.set_status(issue.ref, "In Progress", {})
    facts = first.vendor_facts()
    assert {f["issue_type"] for f in facts["workflows"]} == {"Bug"}
    assert facts["initial_statuses"] == [{"project": "OPS", "issue_type": "Bug", "status": "To Do",
                                          "category": "new"}]
    import json
    second = jira_env.connector()
    second.prime(json.loads(json.dumps(facts)))  # as the store keeps them
    made = second.create(spec(2))
    second.set_status(made.ref, "In Progress", {})
    calls = second.calls.snapshot()
    assert set(calls) == {f"POST {jira_env.sandbox.api}/issue", f"POST {jira_env.sandbox.api}/issue/{{id}}/transitions"}
    # a stale transition id in the kept workflow: Jira refuses it, bridge reads the issue and learns again
    stale = json.loads(json.dumps(facts))
    for workflow in stale["workflows"]:
        for edges in workflow["graph"]["edges"].values():
            for edge in edges:
                edge["id"] = "999" + edge["id"]
    third = jira_env.connector()
    third.prime(stale)
    other = third.create(spec(3))
    third.set_status(other.ref, "In Progress", {})
    assert {i["key"]: i["status"] for i in jira_env.sandbox.snapshot()}[other.ref.key] == "In Progress"
    assert third.calls.snapshot()[f"GET {jira_env.sandbox.api}/issue/{{id}}/transitions"] == 1
