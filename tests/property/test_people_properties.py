"""People both ways (``user: true``, ``direction: both``), over generated directories and edits.

The rules: a person bridge cannot find on the ITSM side is never written (the record keeps its person);
an emptied Jira field empties the ITSM one; after the executor applied a plan (world and synced state
updated), the next plan with nothing new changes nothing (no ping-pong between the sides).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, note
from hypothesis import strategies as st

from bridge.sync.actions import ReportConflict, UpdateFields
from bridge.sync.planner import plan
from tests.fixtures.planning import apply_synced, issue, link_state, mapping, record, record_ref
from tests.fixtures.planning import given as plan_input

ITSM_PEOPLE = ["sn-ann", "sn-bob", "sn-cy", "sn-fallback"]
JIRA_PEOPLE = ["acc-ann", "acc-bob", "acc-cy", "acc-fallback", "acc-stranger"]
SPEC = mapping(fields={"summary": {"template": "{{ record.key }}"},
                       "assignee": {"itsm": "assigned_to", "user": True, "direction": "both"}},
               conflicts={"default": "newest_wins"})


@st.composite
def directories(draw: Any) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """(ITSM → Jira, Jira → ITSM) as the resolver would have answered: a consistent set of known pairs,
    everyone else unknown (``None``) or the fallback."""
    known = draw(st.lists(st.sampled_from(range(3)), unique=True))
    fallback = draw(st.booleans())
    to_jira: dict[str, str | None] = {}
    to_itsm: dict[str, str | None] = {}
    for i, (itsm, jira) in enumerate(zip(ITSM_PEOPLE[:3], JIRA_PEOPLE[:3], strict=True)):
        to_jira[itsm] = jira if i in known else ("acc-fallback" if fallback else None)
        to_itsm[jira] = itsm if i in known else ("sn-fallback" if fallback else None)
    to_jira["sn-fallback"] = "acc-fallback"
    to_itsm["acc-fallback"] = "sn-fallback"
    to_itsm["acc-stranger"] = "sn-fallback" if fallback else None
    return to_jira, to_itsm


@given(
    maps=directories(),
    start=st.sampled_from(ITSM_PEOPLE[:3]),
    record_edit=st.none() | st.sampled_from(ITSM_PEOPLE[:3]),
    jira_edit=st.none() | st.just("") | st.sampled_from(JIRA_PEOPLE),
    record_newer=st.booleans(),
)
def test_people_never_vanish_and_settle(maps: Any, start: str, record_edit: str | None, jira_edit: str | None,
                                        record_newer: bool) -> None:
    to_jira, to_itsm = maps
    world_record: dict[str, Any] = {"assigned_to": start}
    world_issue: dict[str, Any] = {"summary": "INC0000001", "assignee": to_jira[start]}
    synced = {"summary": "INC0000001", "assignee": to_jira[start]}
    state = link_state(1, 1, {1: (dict(synced), "2")}, issue_fields=dict(synced))
    if record_edit is not None:
        world_record["assigned_to"] = record_edit
    if jira_edit is not None:
        world_issue["assignee"] = jira_edit or None
    for round_ in range(3):
        records = [record(1, updated=2 if record_newer else 0, **world_record)] if round_ == 0 and record_edit else []
        issues = [issue(1, updated=0 if record_newer else 2, **world_issue)] if round_ == 0 and jira_edit is not None \
            else []
        if round_ > 0:  # what the executor's writes made look changed
            records = [record(1, **world_record)]
            issues = [issue(1, **world_issue)]
        given_ = replace(plan_input(records=records, issues=issues, links=[state]),
                         people=to_jira, people_to_itsm={**to_itsm, "": None})
        result = plan(SPEC, given_)
        note(f"round {round_}: {result.actions} {result.notes}")
        writes = [a for a in result.actions if isinstance(a, UpdateFields)]
        assert not [a for a in result.actions if isinstance(a, ReportConflict)]
        for write in writes:
            if write.target == record_ref(1):
                value = write.values["assigned_to"]
                assert value is not None or world_issue["assignee"] is None  # never cleared for an unknown
                world_record["assigned_to"] = value
            elif "assignee" in write.values:
                world_issue["assignee"] = write.values["assignee"]
        if round_ > 0:
            assert not writes, f"round {round_} still writes: {writes}"
        updates = [u for a in result.actions for u in a.synced] + list(result.acknowledgements)
        state = apply_synced(state, updates)
    if jira_edit and to_itsm.get(jira_edit) is None and not record_edit:
        assert world_record["assigned_to"] == start  # nobody to write: the record keeps its person
