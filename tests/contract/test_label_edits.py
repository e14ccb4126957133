"""Contract of ``Connector.edit_labels``: single labels added and removed, people's labels untouched.

``link_existing`` marks a shared issue with the mapping's label and ``<prefix><count>``; the issue's
other labels belong to people and must survive. The in-memory Jira must behave as the adapter over the
sandbox does, and no ITSM adapter takes the call.
"""

from __future__ import annotations

import pytest

from bridge.errors import PermanentError
from bridge.model import Side
from tests.contract.harness import ItsmSide, JiraSide


def test_labels_are_added_and_removed_one_by_one_and_the_number_field_is_set(jira: JiraSide) -> None:
    label = jira.mapping.links.jira_label
    ref = jira.person.create()
    jira.person.edit(ref, {"labels": ["team-payments", "incidents-1"]})  # a person relabels: bridge's label gone

    jira.connector.edit_labels(
        ref, add=(label, "incidents-2"), remove=("incidents-1", "never-there"), values={"Linked records": 2}
    )
    item = jira.connector.get(ref, ["labels", "Linked records"])
    assert set(item.fields["labels"] or ()) == {"team-payments", label, "incidents-2"}
    assert item.fields["Linked records"] == 2

    jira.connector.edit_labels(ref, add=(label,))  # already there: changes nothing
    again = jira.connector.get(ref, ["labels", "Linked records"])
    assert set(again.fields["labels"] or ()) == {"team-payments", label, "incidents-2"}
    assert again.fields["Linked records"] == 2


def test_labels_are_never_a_field_value_of_a_label_edit(jira: JiraSide) -> None:
    ref = jira.person.create()
    with pytest.raises(PermanentError):
        jira.connector.edit_labels(ref, values={"labels": ("x",)})


def test_itsm_items_have_no_labels_to_edit(itsm: ItsmSide) -> None:
    ref = itsm.person.create()
    assert itsm.connector.side is Side.ITSM
    with pytest.raises(PermanentError):
        itsm.connector.edit_labels(ref, add=("bridge",))
