"""Webhooks as hints, polling as the truth (``hints.bind``, off by default).

An HTTP listener of its own (:mod:`bridge.hints.server`) accepts ``POST /hooks/jira`` (Jira Cloud and
Data Center webhooks, verified by their HMAC signature or a secret token in the URL) and
``POST /hooks/itsm`` (a ServiceNow business rule's REST message, an RT scrip, a JSM automation rule;
a bearer token). A valid hint names items (:mod:`bridge.hints.payload`); the coalescing queue
(:mod:`bridge.hints.queue`) turns a flood into at most one mini-cycle in flight per mapping
(:func:`bridge.sync.hinted.run_hinted`), which reads only those items. Polling stays on: a lost hint
costs the normal interval, never a change. docs/operations.md, "Webhooks as hints", shows the setup.
"""
