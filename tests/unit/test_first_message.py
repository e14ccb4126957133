"""``record.first_message``: the customer's first words reach the Jira description (issue 16).

The docs example in docs/mappings.md ("Templates") and the shipped RT mapping render through the real
planner with a record whose first message the RT connector filled in.
"""

from __future__ import annotations

import re
from pathlib import Path

from bridge.connectors.rt_mime import html_to_text
from bridge.mapping.loader import load_mapping_file, load_mapping_text
from bridge.model import Record, Ref, Side
from bridge.sync.planner import project

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "mappings.md"
CUSTOMER_HTML = '<p>Printer <b>on fire</b>, see <a href="https://kb.test/1">KB</a></p>'


def ticket(first_message: str | None) -> Record:
    ref = Ref(Side.ITSM, "Incidents", "42", "RT#42", "https://rt.example.com/Ticket/Display.html?id=42")
    return Record(ref=ref, fields={"Queue": "Incidents", "Requestor": ("c@example.test",), "Subject": "Fire",
                                   "CF.{Severity}": "high"}, first_message=first_message)


def test_the_documented_example_renders_as_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("`record.first_message` is what"):]
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    expected = re.search(r"```text\n(.*?)\n```", section, re.DOTALL)
    assert example
    assert expected
    assert f"`{CUSTOMER_HTML}`" in section
    body = "\n".join("  " + line for line in example.group(1).splitlines())
    yaml = ("name: doc\nroute: {record_type: Incidents}\ntarget: {project: DEMO, issue_type: Bug}\n"
            # what any RT mapping needs besides the documented rule: RT's comment channels and a summary
            "comments: {to_itsm_channel: comment, from_itsm_channels: [comment, correspond]}\n"
            f"fields:\n{body}\n  summary: {{template: \"{{{{ Subject }}}}\"}}\n")
    result = load_mapping_text(yaml, "docs example")
    assert not result.errors
    mapping = result.mappings[0].mapping
    values = project(mapping, ticket(html_to_text(CUSTOMER_HTML)))
    assert str(values["description"]).strip() == expected.group(1)


def test_the_shipped_rt_mapping_opens_the_description_with_the_first_message() -> None:
    result = load_mapping_file(ROOT / "mappings" / "rt-incident-to-bug.yaml")
    assert not result.errors
    mapping = result.mappings[0].mapping
    description = str(project(mapping, ticket("My printer is on fire.\n\n(attached: photo.jpg)"))["description"])
    assert description.startswith("My printer is on fire.\n\n(attached: photo.jpg)\n\nEscalated from Request Tracker")
    assert "RT#42" in description


def test_without_a_first_message_the_template_renders_empty_not_an_error() -> None:
    result = load_mapping_file(ROOT / "mappings" / "rt-incident-to-bug.yaml")
    description = str(project(result.mappings[0].mapping, ticket(None))["description"])
    assert description.lstrip().startswith("Escalated from Request Tracker ticket RT#42")
