"""``bridge trends``: a ranked report of what support escalates to engineering, from the state store.

:mod:`bridge.trends.report` computes it (pure functions), :mod:`bridge.trends.formats` and
:mod:`bridge.trends.html` render it, :mod:`bridge.trends.config` is the ``trends:`` config section; the
facts come from :mod:`bridge.store.trends_queries`.
"""
