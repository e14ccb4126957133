"""``bridge retry``: put entries of the error list back in the queue (after fixing their cause)."""

from __future__ import annotations

import click

from bridge.commands._common import GlobalOptions, bridge_command, load_store
from bridge.exitcodes import ExitCode


@click.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Re-queue every open entry.")
@click.option("--mapping", metavar="NAME", help="With --all: only this mapping's entries.")
@click.pass_obj
@bridge_command
def retry(opts: GlobalOptions, ids: tuple[int, ...], retry_all: bool, mapping: str | None) -> int:
    """Re-queue error list entries by ID (or --all). A failed action runs again first thing in the next
    cycle; a conflict or planning problem is looked at afresh (and reported again if still there)."""
    if bool(ids) == retry_all:
        raise click.UsageError("give error ids or --all (see `bridge errors`)")
    store = load_store(opts)
    try:
        if retry_all:
            done = store.retry_all(mapping)
        else:
            missing = [i for i in ids if store.error(i) is None]
            if missing:
                raise click.BadParameter(f"no such entry on the error list: {', '.join(map(str, missing))}")
            done = [store.retry_error(i) for i in ids]
    finally:
        store.close()
    for entry in done:
        click.echo(f"re-queued {entry.id} ({entry.kind}, {entry.item_ref or entry.mapping})")
    click.echo(f"{len(done)} entr{'y' if len(done) == 1 else 'ies'} re-queued; the next sync picks them up")
    return ExitCode.OK
