"""Mirrors on channels the customer reads, over real HTTP: no marker text, known again by their id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.model import Marker, Ref, Side
from tests.fixtures.servicenow import Snow, make_connector, running_sandbox

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
    assert read["Dana Developer\nPlease retry"].own and read["Dana Developer\nPlease retry"].id == reply.id
    assert not read["Still broken"].own  # the caller's
    assert not read["internal"].own and read["internal"].marker == note.marker  # the marker says more
    shared = make_connector(snow.url)  # the default: the account may be a person's too
    assert not any(c.own for c in shared.comments_since([ref], None)[ref.id])
