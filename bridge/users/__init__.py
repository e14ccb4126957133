"""People across the systems: who an ITSM user is in Jira and back (the mapping's ``users:`` section).

:mod:`bridge.users.resolve` decides (explicit table, cached lookups, e-mail, fallback); the directories in
:mod:`bridge.users.directories` ask each vendor; the store keeps what was found for ``cache_hours``.
"""
