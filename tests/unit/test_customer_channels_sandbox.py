"""Mirrors on channels the customer reads, over real HTTP: no marker text, known again by their id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.model import Marker, Ref, Side
from tests.fixtures.servicenow import API_USER, Snow, make_connector, running_sandbox

pytestmark = pytest.mark.slow


@pytest.fixture
def snow() -> Iterator[Snow]:
    with running_sandbox() as env:
        yield env


def test_a_servicenow_additional_comment_has_no_marker_and_its_journal_id_is_returned(snow: Snow) -> None:
    made = snow.app.create_incident("Portal down", category="software")
    connector = make_connector(snow.url)
    ref = connector.get(Ref(Side.ITSM, "incident", made["sys_id"], made["number"]), []).ref
    snow.app.add_customer_comment("incident", made["sys_id"], "Dana Developer\nPlease retry", author="Carol Caller")
    snow.clock.advance(1)
    written = connector.add_comment(ref, "Dana Developer\nPlease retry", channel="comments",
                                    marker=Marker(Side.JIRA, "10077"))
    rows = snow.app.journal("incident", made["sys_id"])
    assert rows[-1]["value"] == "Dana Developer\nPlease retry"  # what the caller's e-mail shows
    assert "[bridge:" not in rows[-1]["value"]
    assert written.id == rows[-1]["sys_id"]  # bridge's own row, not the caller's identical text
    assert written.marker == Marker(Side.JIRA, "10077")  # for the store: the mirror's origin
    read = {c.id: c for c in connector.comments_since([ref], None)[ref.id]}
    assert read[written.id].marker is None  # known again only by the id the engine stores
    assert read[written.id].channel == "comments"
    note = connector.add_comment(ref, "internal", channel="work_notes", marker=Marker(Side.JIRA, "10078"))
    again = {c.id: c for c in connector.comments_since([ref], None)[ref.id]}
    assert again[note.id].marker == Marker(Side.JIRA, "10078")  # internal: the marker is in the text
    assert note.channel == "work_notes"


def test_a_dedicated_account_marks_its_unmarked_entries_as_bridges_own(snow: Snow) -> None:
    """``sys_created_by`` (a user_name) is the carrier: only bridge's account, only without a marker."""
    made = snow.app.create_incident("Portal down", category="software")
    connector = make_connector(snow.url, dedicated_account=True)
    ref = connector.get(Ref(Side.ITSM, "incident", made["sys_id"], made["number"]), []).ref
    snow.app.add_customer_comment("incident", made["sys_id"], "Still broken", author="Carol Caller")
    reply = connector.add_comment(ref, "Dana Developer\nPlease retry", channel="comments",
                                  marker=Marker(Side.JIRA, "10077"))
    note = connector.add_comment(ref, "internal", channel="work_notes", marker=Marker(Side.JIRA, "10078"))
    read = {c.body: c for c in connector.comments_since([ref], None)[ref.id]}
    assert read["Dana Developer\nPlease retry"].own
    assert read["Dana Developer\nPlease retry"].id == reply.id
    assert not read["Still broken"].own  # the caller's
    assert not read["internal"].own  # its marker says more
    assert read["internal"].marker == note.marker
    shared = make_connector(snow.url)  # the default: the account may be a person's too
    assert not any(c.own for c in shared.comments_since([ref], None)[ref.id])


def test_doctor_says_whether_a_person_writes_with_bridges_account(snow: Snow) -> None:
    """An internal note by bridge's account without a marker is a person's: fatal only when declared dedicated."""
    made = snow.app.create_incident("Portal down", category="software")
    dedicated = make_connector(snow.url, dedicated_account=True)
    ref = dedicated.get(Ref(Side.ITSM, "incident", made["sys_id"], made["number"]), []).ref
    dedicated.add_comment(ref, "a mirror", channel="work_notes", marker=Marker(Side.JIRA, "1"))
    dedicated.add_comment(ref, "Dana\nPlease retry", channel="comments", marker=Marker(Side.JIRA, "2"))
    [line] = [r for r in dedicated.check([]) if "dedicated_account" in r.what]
    assert line.ok, line  # customer replies carry no marker by design: only work notes are looked at
    snow.app.add_work_note("incident", made["sys_id"], "typed by a person", author=API_USER)
    [line] = [r for r in dedicated.check([]) if "dedicated_account" in r.what]
    assert not line.ok
    assert "a person seems to use the account" in (line.hint or "")
    [line] = [r for r in make_connector(snow.url).check([]) if "dedicated_account" in r.what]
    assert line.ok  # not declared dedicated: said, not an error
    assert "without bridge's marker" in line.what
