"""The sync and operations commands of the ``bridge`` CLI: ``sync``, ``plan``, ``run``, ``links``,
``errors``, ``retry``, ``resync``, ``doctor`` and ``demo``; one module each. :func:`register` adds them to
the click group of :mod:`bridge.cli`.

The commands build their engine through :func:`bridge.bootstrap.build_engine`, whose connectors come
from :data:`bridge.bootstrap.DEFAULT_CONNECTOR_FACTORIES` unless ``GlobalOptions.connector_factories``
overrides a kind (how tests run these very commands against the in-memory connectors).
"""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add every sync command to ``group``. Imports lazily: :mod:`bridge.cli` calls this at import time."""
    from bridge.commands.demo import demo
    from bridge.commands.doctor import doctor
    from bridge.commands.errors import errors
    from bridge.commands.links import links
    from bridge.commands.plan import plan
    from bridge.commands.resync import resync
    from bridge.commands.retry import retry
    from bridge.commands.run import run
    from bridge.commands.sync import sync

    for command in (sync, plan, run, links, errors, retry, resync, doctor, demo):
        group.add_command(command)


__all__ = ["register"]
