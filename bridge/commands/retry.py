"""``bridge retry``: put entries of the error list back in the queue (after fixing their cause).

A re-queued action is not replayed: the next cycle plans it again from the current mapping and both
sides' current data (:mod:`bridge.sync.refusals`), so a fix in the mapping or in a record takes effect.
"""

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
    """Re-queue error list entries by ID (or --all). The next sync plans a failed action again from the
    current mapping and both sides' current data (a comment is posted as it was); a conflict or planning
    problem is looked at afresh (and reported again if still there)."""
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
    noun = "entry" if len(done) == 1 else "entries"
    click.echo(f"{len(done)} {noun} re-queued; the next sync plans them again from current data")
    return ExitCode.OK
