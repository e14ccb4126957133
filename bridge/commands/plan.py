"""``bridge plan``: a dry run. Reads both sides, plans, prints the actions; writes nothing at all
(no journal row, no cursor, no lock file content, no vendor write).

Each action reads as the operator needs it: old → new where the last synced value is known, and
``(new Bug)`` for an issue the same plan creates instead of the internal placeholder key. A file reads
with its name, size and direction, and one over the mapping's limits says so with the note it gets."""

from __future__ import annotations

import json

import click

from bridge.commands._common import GlobalOptions, bridge_command, load_engine, parse_when, select_mappings, table
from bridge.commands.explain import describe_action, new_issue_labels
from bridge.core.actions import Action
from bridge.core.attachments import CopyAttachment, NoteAttachment
from bridge.exitcodes import ExitCode
from bridge.mapping.attachments import human_size
from bridge.model import Side
from bridge.sync.actions import to_json
from bridge.sync.cycle import plan_cycle


@click.command()
@click.option("--mapping", "mapping_names", multiple=True, metavar="NAME", help="Only this mapping (repeatable).")
@click.option("--since", metavar="DATETIME", help="Plan from the changes since DATETIME instead of the cursors.")
@click.option("--json", "as_json", is_flag=True, help="Print the actions as JSON (one document).")
@click.pass_obj
@bridge_command
def plan(opts: GlobalOptions, mapping_names: tuple[str, ...], since: str | None, as_json: bool) -> int:
    """Show what the next sync would do, without doing it."""
    start = parse_when(since) if since else None
    _, engine = load_engine(opts, existing_state=True)
    try:
        reports = [
            plan_cycle(engine, spec, since=start) for spec in select_mappings(engine, mapping_names)
        ]
        systems = {Side.JIRA: engine.jira.display_name, Side.ITSM: engine.itsm.display_name}
        described = {
            id(a): describe_file(a, systems) or describe_action(a, engine.store, new_issue_labels(r.actions))
            for r in reports for a in r.actions
        }
    finally:
        engine.close()
    if as_json:
        document = [
            {
                "mapping": r.mapping,
                "actions": [
                    {
                        "kind": a.kind,
                        "key": a.key,
                        "side": a.side.value if a.side else None,
                        "description": described[id(a)],
                        "action": json.loads(to_json(a)),
                    }
                    for a in r.actions
                ],
                "problems": r.problems,
                "notes": r.notes,
            }
            for r in reports
        ]
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return ExitCode.OK
    rows = [(r.mapping, a.kind, a.side.value if a.side else "-", described[id(a)]) for r in reports for a in r.actions]
    if rows:
        click.echo(table(("MAPPING", "ACTION", "SIDE", "WHAT"), rows))
    else:
        click.echo("nothing to do")
    for report in reports:
        for problem in report.problems:
            click.echo(f"⚠ {report.mapping}: {problem}")
        for note in report.notes:
            click.echo(f"ℹ {report.mapping}: {note}")
    return ExitCode.OK


def describe_file(action: Action, systems: dict[Side, str]) -> str | None:
    """A file action as the operator weighs it: which file, how big, which way; ``None`` for other actions.

    A copy reads ``copy error.log (1.2 KB) ServiceNow → Jira: INC0010001 → OPS-1``; a file over the limit
    ``core.dump (4.9 KB) ServiceNow → Jira: over the limit: note on OPS-1 "…"`` with the note it gets.
    """
    if not isinstance(action, CopyAttachment | NoteAttachment):
        return None
    way = f"{systems.get(action.origin.side, action.origin.side.value)} → " \
          f"{systems.get(action.target.side, action.target.side.value)}"
    file = f"{action.filename} ({human_size(action.size)})"
    if isinstance(action, CopyAttachment):
        return f"copy {file} {way}: {action.origin.key} → {action.target.key}"
    return f'{file} {way}: over the limit: note on {action.target.key} "{action.body}"'
