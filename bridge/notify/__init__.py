"""Notifications when sync needs a person: an entry joins the error list, a mapping goes stale, it recovers.

:mod:`bridge.notify.config` is the ``notify:`` config section; :mod:`bridge.notify.detect` turns the
store's error list and mapping status into events (pure, remembers what it already announced);
:mod:`bridge.notify.dispatch` de-duplicates, summarises and rate-limits them into messages;
:mod:`bridge.notify.senders` delivers a message to a signed webhook, SMTP, Slack or Teams.
"""
