"""``bridge errors``: the error list (failed actions, conflicts, records that could not be planned)."""

from __future__ import annotations

import json

import click

from bridge.commands._common import GlobalOptions, bridge_command, load_existing_store, table, when
from bridge.exitcodes import ExitCode


@click.command()
@click.option("--mapping", metavar="NAME", help="Only this mapping's errors.")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@bridge_command
def errors(opts: GlobalOptions, mapping: str | None, include_resolved: bool, as_json: bool) -> int:
    """Show what needs an operator: re-queue with `bridge retry ID` once the cause is fixed."""
    store = load_existing_store(opts)
    try:
        entries = store.errors(mapping, include_resolved=include_resolved)
    finally:
        store.close()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": e.id,
                        "mapping": e.mapping,
                        "kind": e.kind,
                        "item": e.item_ref,
                        "link": e.link_id,
                        "message": e.message,
                        "count": e.count,
                        "first_seen": e.first_seen.isoformat(),
                        "last_seen": e.last_seen.isoformat(),
                        "resolved": e.resolved,
                        "retryable": e.journal_id is not None,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return ExitCode.OK
    if not entries:
        click.echo("the error list is empty")
        return ExitCode.OK
    rows = [
        (
            e.id,
            e.mapping,
            e.kind,
            e.item_ref or "",
            e.count,
            when(e.first_seen),
            when(e.last_seen),
            ("(resolved) " if e.resolved else "") + e.message,
        )
        for e in entries
    ]
    click.echo(table(("ID", "MAPPING", "KIND", "ITEM", "COUNT", "FIRST SEEN", "LAST SEEN", "MESSAGE"), rows))
    return ExitCode.OK
