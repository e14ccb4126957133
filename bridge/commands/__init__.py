"""The commands of the ``bridge`` CLI, one module each (``check``, ``sync``, ``plan``, ``run``,
``links``, ``errors``, ``retry``, ``resync``, ``doctor``, ``demo``); :mod:`bridge.cli` registers them on
its click group. What they share is in :mod:`bridge.commands._common`.

The commands build their engine through :func:`bridge.bootstrap.build_engine`, whose connectors come
from :data:`bridge.bootstrap.DEFAULT_CONNECTOR_FACTORIES` unless ``GlobalOptions.connector_factories``
overrides a kind (how tests run these very commands against the in-memory connectors).
"""
