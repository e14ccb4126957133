"""Opening the state store for read-only commands (``errors``, ``links``, ``plan``, ``doctor``, ``explain``).

Opening a SQLite URL creates the file, and migrating creates the schema: run outside systemd with the
daemon's config file, a read-only command would quietly make a new, empty database next to the config
and answer "the error list is empty" about the wrong one. Here a missing database is an error that says
where bridge looked and where the daemon keeps its state under systemd.
"""

from __future__ import annotations

from bridge.errors import StoreError
from bridge.settings.schema import DEFAULT_STATE_FILE
from bridge.store.diagnostics import schema_status, sqlite_file
from bridge.store.store import Store, masked_url

#: Where ``bridge.service`` keeps its state: ``StateDirectory=bridge`` is ``/var/lib/bridge``.
SYSTEMD_STATE_DIRECTORY = "/var/lib/bridge"


class StateMissingError(StoreError):
    """No state database where the settings point: nothing has synced there yet (exit code 3)."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


def _hints(looked: str) -> list[str]:
    daemon = f"{SYSTEMD_STATE_DIRECTORY}/{DEFAULT_STATE_FILE}"
    return [
        f"looked for: {looked}",
        f"under systemd the daemon keeps it in its StateDirectory, likely {daemon}: run this command the "
        f"way the service runs, e.g. `sudo -u bridge env STATE_DIRECTORY={SYSTEMD_STATE_DIRECTORY} "
        "bridge --config /etc/bridge/config.yaml …`, or set state.url to the daemon's database",
        "read-only commands never create a database; `bridge sync` or `bridge run` does on its first cycle",
    ]


def require_state(url: str) -> None:
    """Raise :class:`StateMissingError` unless ``url`` holds a bridge state database (reads only)."""
    path = sqlite_file(url)
    if path is not None:
        if not path.is_file():
            raise StateMissingError(f"no state database at {path}", _hints(str(path)))
        return
    store = Store.open(url, migrate_schema=False)
    try:
        status = schema_status(store)
    finally:
        store.close()
    if status.current is None:
        raise StateMissingError(f"no bridge state in {masked_url(url)} (the database has no schema)",
                                _hints(masked_url(url)))


def open_existing(url: str) -> Store:
    """The store at ``url`` (migrated as :meth:`Store.open` does) when it exists; never a new one."""
    require_state(url)
    return Store.open(url, write=False)
