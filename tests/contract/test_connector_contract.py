"""What every connector must do, whatever the vendor (see bridge/connectors/base.py for the port).

Each test runs once per registered harness (tests/contract/harnesses/) and, where the behaviour is the
same on both sides, once per side.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from bridge.connectors.base import CreateSpec
from bridge.errors import NotFoundError, PermanentError
from bridge.model import Comment, Issue, Marker, Record, Ref, Side
from tests.contract.harness import ItsmSide, JiraSide

Bundle = ItsmSide | JiraSide  # the `side` fixture (conftest) gives either


def text_field(bundle: Bundle) -> str:
    return bundle.profile.text_field


def search(bundle: Bundle, since: Any = None) -> list[Any]:
    return list(bundle.connector.search_changed(bundle.mapping, since, [text_field(bundle)]))


def needs_clock(bundle: Bundle) -> None:
    if not bundle.person.can_advance_clock:
        pytest.skip("this harness cannot move its server's clock")


# ------------------------------------------------------------------------------------ search


def test_search_returns_created_items_with_their_fields(side: Bundle) -> None:
    first = side.person.create({text_field(side): "First thing"})
    second = side.person.create({text_field(side): "Second thing"})
    found = {item.ref.id: item for item in search(side)}
    assert {first.id, second.id} <= set(found)
    assert found[first.id].fields[text_field(side)] == "First thing"
    assert found[first.id].ref.key == first.key
    expected = Record if side.connector.side is Side.ITSM else Issue
    assert all(isinstance(item, expected) for item in found.values())


def test_search_since_returns_edited_items_and_not_unchanged_ones(side: Bundle) -> None:
    needs_clock(side)
    unchanged = side.person.create()
    edited = side.person.create()
    side.person.advance(180)  # beyond every vendor's query precision
    since = side.person.now()
    side.person.advance(5)
    side.person.edit(edited, {text_field(side): "Edited later"})
    fresh = side.person.create()
    ids = [item.ref.id for item in search(side, since)]
    assert edited.id in ids
    assert fresh.id in ids
    assert unchanged.id not in ids


def test_search_is_one_paginated_query_oldest_first(side: Bundle) -> None:
    count = side.page_size * 2 + 1
    for n in range(count):
        side.person.create({text_field(side): f"Item {n}"})
        if side.person.can_advance_clock:
            side.person.advance(1)
    before = side.connector.calls.snapshot()
    items = search(side)
    spent = side.connector.calls.since(before)
    assert len(items) == count
    assert len({i.ref.id for i in items}) == count
    assert sum(spent.values()) == math.ceil(count / side.page_size)
    assert len(spent) == 1  # one endpoint: the search, never a read per item
    assert [i.updated for i in items] == sorted(i.updated for i in items)


def test_search_never_misses_an_item_edited_in_the_minute_of_the_cursor(side: Bundle) -> None:
    old = side.person.create()
    cursor = max(item.updated for item in search(side))
    if side.person.can_advance_clock:
        side.person.advance(20)  # the harness clock starts 10 s into a minute: still the same minute
    side.person.edit(old, {text_field(side): "edited right after the poll"})
    found = [item for item in search(side, cursor) if item.ref.id == old.id]
    assert found
    assert found[-1].fields[text_field(side)] == "edited right after the poll"


def test_search_with_nothing_selected_costs_one_call(side: Bundle) -> None:
    before = side.connector.calls.snapshot()
    assert search(side) == []
    assert sum(side.connector.calls.since(before).values()) == 1


def test_every_edit_changes_the_version(side: Bundle) -> None:
    ref = side.person.create()
    first = side.connector.get(ref, [text_field(side)])
    if side.person.can_advance_clock:
        side.person.advance(1)
    side.person.edit(ref, {text_field(side): "changed"})
    second = side.connector.get(ref, [text_field(side)])
    assert first.version != second.version
    assert second.updated >= first.updated


# ------------------------------------------------------------------------------------ reading


def test_get_unknown_raises_not_found(side: Bundle) -> None:
    kind = "issue" if side.connector.side is Side.JIRA else side.mapping.route.record_type
    ghost = Ref(side.connector.side, kind, "999999999", "GHOST-1")
    with pytest.raises(NotFoundError):
        side.connector.get(ghost, [text_field(side)])


def test_comments_since_returns_every_comment_with_parsed_markers(side: Bundle) -> None:
    ref = side.person.create()
    quiet = side.person.create()
    side.person.comment(ref, "Written by a person")
    channel = side.profile.comment_channel if isinstance(side, ItsmSide) else "comment"
    marker = Marker(side.connector.side.other, "origin-42")
    written = side.connector.add_comment(ref, "Mirrored by bridge", channel=channel, marker=marker)

    comments = side.connector.comments_since([ref, quiet], None)
    assert set(comments) == {ref.id, quiet.id}
    assert comments[quiet.id] == []
    by_body = {c.body.strip(): c for c in comments[ref.id]}
    assert set(by_body) == {"Written by a person", "Mirrored by bridge"}
    assert by_body["Written by a person"].marker is None
    assert by_body["Mirrored by bridge"].marker == marker
    assert by_body["Mirrored by bridge"].id == written.id
    assert "[bridge:" not in by_body["Mirrored by bridge"].body
    assert [c.created for c in comments[ref.id]] == sorted(c.created for c in comments[ref.id])


def test_add_comment_can_be_found_again_by_its_marker(side: Bundle) -> None:
    ref = side.person.create()
    channel = side.profile.comment_channel if isinstance(side, ItsmSide) else "comment"
    marker = Marker(side.connector.side.other, "c-77")
    written = side.connector.add_comment(ref, "Line one\nLine two", channel=channel, marker=marker)
    assert isinstance(written, Comment)
    found = side.connector.find_comment_by_marker(ref, marker)
    assert found is not None
    assert found.id == written.id
    assert found.body.strip() == "Line one\nLine two"
    assert side.connector.find_comment_by_marker(ref, Marker(side.connector.side.other, "c-78")) is None


def test_update_fields_round_trips_normalised_values(side: Bundle) -> None:
    ref = side.person.create()
    if isinstance(side, ItsmSide):
        values = {side.profile.text_field: "New subject", side.profile.other_text_field: "Longer text\nwith lines"}
    else:
        values = {"summary": "New summary", "labels": ("bridge-contract", "x-extra")}
    side.connector.update_fields(ref, values)
    item = side.connector.get(ref, list(values))
    assert dict(item.fields) == values


# ------------------------------------------------------------------------------------ ITSM only


def test_itsm_never_creates(itsm: ItsmSide) -> None:
    spec = CreateSpec("OPS", "Bug", {"summary": "x"}, marker="itsm-incident-1")
    with pytest.raises(PermanentError):
        itsm.connector.create(spec)


def test_itsm_refuses_a_closing_state_without_the_close_fields(itsm: ItsmSide) -> None:
    if not itsm.profile.close_fields:
        pytest.skip("this ITSM demands no fields to close a record (e.g. Request Tracker's default lifecycle)")
    ref = itsm.person.create()
    with pytest.raises(PermanentError):
        itsm.connector.set_status(ref, itsm.profile.closed_status, {})
    assert itsm.connector.get(ref, []).status != itsm.profile.closed_status
    itsm.connector.set_status(ref, itsm.profile.closed_status, dict(itsm.profile.close_fields))
    closed = itsm.connector.get(ref, list(itsm.profile.close_fields))
    assert closed.status == itsm.profile.closed_status
    assert dict(closed.fields) == dict(itsm.profile.close_fields)


def test_itsm_set_status_to_the_current_status_changes_nothing(itsm: ItsmSide) -> None:
    ref = itsm.person.create()
    itsm.connector.set_status(ref, itsm.profile.open_status, {})
    before = itsm.connector.get(ref, [])
    itsm.connector.set_status(ref, itsm.profile.open_status, {})
    after = itsm.connector.get(ref, [])
    assert (after.status, after.version) == (itsm.profile.open_status, before.version)


def test_itsm_back_reference_is_idempotent_and_findable(itsm: ItsmSide) -> None:
    ref = itsm.person.create()
    issue = Ref(Side.JIRA, "issue", "10077", "OPS-77", "https://jira.example/browse/OPS-77")
    values = {itsm.profile.key_field: "OPS-77"}
    itsm.connector.write_back_reference(ref, issue, values)
    once = itsm.connector.get(ref, [itsm.profile.key_field])
    itsm.connector.write_back_reference(ref, issue, values)
    twice = itsm.connector.get(ref, [itsm.profile.key_field])
    assert dict(once.fields) == dict(twice.fields) == values
    assert once.version == twice.version
    found = itsm.connector.find_by_marker(itsm.mapping, "OPS-77")
    assert found is not None
    assert found.ref.id == ref.id
    assert itsm.connector.find_by_marker(itsm.mapping, "OPS-78") is None


# ------------------------------------------------------------------------------------ Jira only


def create_spec(jira: JiraSide, marker: str, summary: str = "INC0010001: Printer down") -> CreateSpec:
    return CreateSpec(
        project=jira.mapping.target.project,
        issue_type=jira.mapping.target.issue_type,
        fields={"summary": summary},
        marker=marker,
        labels=(jira.mapping.links.jira_label,),
    )


def test_jira_create_is_one_call_and_findable_by_marker(jira: JiraSide) -> None:
    before = jira.connector.calls.snapshot()
    created = jira.connector.create(create_spec(jira, "itsm-incident-abc123"))
    spent = jira.connector.calls.since(before)
    # ONE write. Jira's create answers only {id, key, self}, so a real adapter may read the new issue
    # back (one GET) to return its status and version; it must never write twice.
    assert sum(n for endpoint, n in spent.items() if not endpoint.startswith("GET ")) == 1
    assert sum(spent.values()) <= 2
    assert created.ref.key
    assert created.status == jira.profile.initial_status
    found = jira.connector.find_by_marker(jira.mapping, "itsm-incident-abc123")
    assert found is not None
    assert found.ref.id == created.ref.id
    assert jira.connector.find_by_marker(jira.mapping, "itsm-incident-other") is None
    assert [i.ref.id for i in search(jira)] == [created.ref.id]


def test_jira_create_with_a_marker_field(jira: JiraSide) -> None:
    mapping = jira.marker_field_mapping
    if mapping is None:
        pytest.skip("this harness has no marker custom field")
    spec = CreateSpec(mapping.target.project, mapping.target.issue_type, {"summary": "x"}, "itsm-incident-f1",
                      labels=(mapping.links.jira_label,), marker_field=mapping.links.jira_marker_field)
    created = jira.connector.create(spec)
    found = jira.connector.find_by_marker(mapping, "itsm-incident-f1")
    assert found is not None
    assert found.ref.id == created.ref.id


def test_jira_find_by_markers_is_one_search_for_many_markers(jira: JiraSide) -> None:
    first = jira.connector.create(create_spec(jira, "itsm-incident-b1"))
    second = jira.connector.create(create_spec(jira, "itsm-incident-b2"))
    twin = jira.connector.create(create_spec(jira, "itsm-incident-b2"))
    markers = ["itsm-incident-b1", "itsm-incident-b2", "itsm-incident-none"]
    before = jira.connector.calls.snapshot()
    found = jira.connector.find_by_markers(jira.mapping, markers, ["summary"])
    spent = jira.connector.calls.since(before)
    assert sum(spent.values()) == 1  # ONE search, whatever the number of markers
    assert [i.ref.id for i in found["itsm-incident-b1"]] == [first.ref.id]
    assert sorted(i.ref.id for i in found["itsm-incident-b2"]) == sorted([second.ref.id, twin.ref.id])
    assert found["itsm-incident-none"] == []
    assert found["itsm-incident-b1"][0].fields["summary"]


def test_jira_find_by_markers_chunks_long_lists(jira: JiraSide) -> None:
    created = jira.connector.create(create_spec(jira, "itsm-incident-c7"))
    jira.connector.marker_batch_size = 3
    markers = [f"itsm-incident-c{n}" for n in range(8)]
    before = jira.connector.calls.snapshot()
    found = jira.connector.find_by_markers(jira.mapping, markers, [])
    assert sum(jira.connector.calls.since(before).values()) == 3
    assert [i.ref.id for i in found["itsm-incident-c7"]] == [created.ref.id]


def test_jira_find_by_markers_with_a_marker_field(jira: JiraSide) -> None:
    mapping = jira.marker_field_mapping
    if mapping is None:
        pytest.skip("this harness has no marker custom field")
    spec = CreateSpec(mapping.target.project, mapping.target.issue_type, {"summary": "x"}, "itsm-incident-g1",
                      labels=(mapping.links.jira_label,), marker_field=mapping.links.jira_marker_field)
    created = jira.connector.create(spec)
    found = jira.connector.find_by_markers(mapping, ["itsm-incident-g1", "itsm-incident-g2"], [])
    assert [i.ref.id for i in found["itsm-incident-g1"]] == [created.ref.id]
    assert found["itsm-incident-g2"] == []


def test_jira_create_refuses_an_invalid_issue(jira: JiraSide) -> None:
    with pytest.raises(PermanentError):
        jira.connector.create(create_spec(jira, "itsm-incident-x", summary=""))


def test_jira_set_status_walks_the_workflow(jira: JiraSide) -> None:
    ref = jira.connector.create(create_spec(jira, "itsm-incident-w1")).ref
    jira.connector.set_status(ref, jira.profile.far_status, {})
    assert jira.connector.get(ref, []).status == jira.profile.far_status
    jira.connector.set_status(ref, jira.profile.initial_status, {})
    assert jira.connector.get(ref, []).status == jira.profile.initial_status


def test_jira_done_requires_a_resolution(jira: JiraSide) -> None:
    ref = jira.connector.create(create_spec(jira, "itsm-incident-w2")).ref
    with pytest.raises(PermanentError):
        jira.connector.set_status(ref, jira.profile.done_status, {})
    assert jira.connector.get(ref, []).status == jira.profile.initial_status
    jira.connector.set_status(ref, jira.profile.done_status, {"resolution": jira.profile.resolution})
    done = jira.connector.get(ref, ["resolution"])
    assert done.status == jira.profile.done_status
    assert done.status_category == "done"
    assert done.fields["resolution"] == jira.profile.resolution


def test_jira_set_status_to_the_current_status_changes_nothing(jira: JiraSide) -> None:
    ref = jira.connector.create(create_spec(jira, "itsm-incident-w3")).ref
    before = jira.connector.get(ref, [])
    jira.connector.set_status(ref, jira.profile.initial_status, {})
    after = jira.connector.get(ref, [])
    assert (after.status, after.version) == (before.status, before.version)


def test_jira_remote_link_is_an_upsert(jira: JiraSide) -> None:
    ref = jira.connector.create(create_spec(jira, "itsm-incident-r1")).ref
    record = Ref(Side.ITSM, "incident", "abc123", "INC0010001", "https://itsm.example/incident.do?sys_id=abc123")
    jira.connector.write_back_reference(ref, record, {"title": "INC0010001"})
    jira.connector.write_back_reference(ref, record, {"title": "INC0010001"})
    assert jira.person.remote_link_count(ref) == 1
