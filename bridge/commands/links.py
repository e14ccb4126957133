"""``bridge links``: the stored links, and with ``--show`` the audit trail of one link."""

from __future__ import annotations

import click

from bridge.commands._common import GlobalOptions, bridge_command, load_existing_store, table, when
from bridge.exitcodes import ExitCode
from bridge.model import Link


def _state(link: Link) -> str:
    """``open``, or ``closed <when>: <reason>`` (an item was deleted or merged away; never synced again)."""
    if link.closed is None:
        return "open"
    return f"closed {when(link.closed)}: {link.closed_reason or 'no reason recorded'}"


@click.command()
@click.option("--mapping", metavar="NAME", help="Only the links of this mapping.")
@click.option("--show", "ref", metavar="REF", help="A link id, issue key or record key: print its audit trail.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many links.")
@click.pass_obj
@bridge_command
def links(opts: GlobalOptions, mapping: str | None, ref: str | None, limit: int | None) -> int:
    """List links (issue ↔ records), or show one link's journal."""
    store = load_existing_store(opts)
    try:
        if ref is None:
            rows = [
                (link.id, link.mapping, link.issue.key, ", ".join(r.key for r in link.records), when(link.created),
                 _state(link))
                for link in store.links(mapping, limit=limit)
            ]
            click.echo(table(("ID", "MAPPING", "ISSUE", "RECORDS", "CREATED", "STATE"), rows) if rows else "no links")
            return ExitCode.OK
        link = store.find_link(ref, mapping)
        if link is None:
            return _explain_unlinked(opts, ref)
        click.echo(f"link {link.id} ({link.mapping}), created {when(link.created)}, {_state(link)}")
        click.echo(f"  issue   {link.issue.key}  {link.issue.url}")
        for record in link.records:
            click.echo(f"  record  {record.key}  {record.url}")
        state = store.link_state(link.id)
        if state is not None:
            click.echo(f"  comments mirrored: {len(state.comments)}")
        trail = [
            (e.id, when(e.created), e.kind, e.state, e.attempts, e.action.describe(), e.last_error or "")
            for e in store.journal_for_link(link.id)
        ]
        click.echo(
            table(("JOURNAL", "WHEN", "ACTION", "STATE", "TRIES", "WHAT", "ERROR"), trail) if trail else "  no journal"
        )
        return ExitCode.OK
    finally:
        store.close()


def _explain_unlinked(opts: GlobalOptions, ref: str) -> int:
    """No link has that name: say why (``bridge explain``), e.g. the route does not select the record."""
    from bridge.commands.explain import explain

    click.echo(f"no link for {ref!r}; what bridge knows about it:")
    ctx = click.get_current_context()
    return int(ctx.invoke(explain, ref=ref, offline=False) or ExitCode.OK)
