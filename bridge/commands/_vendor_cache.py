"""Vendor facts kept between runs in the state store for an hour: what a connector read once and would
otherwise read again in every new process — Jira's field catalogue, the account and its time zone, the
workflows learnt per project and issue type, the status a new issue starts in; ServiceNow's field
lengths and the journal authors' display names. ``bridge sync --once`` from cron or a timer then does
not re-read ``GET /field`` and ``GET /myself`` before its first search, nor re-learn a workflow or an
initial status at its first change, and neither does a restarted daemon (it primes at start and keeps
what it learnt after its passes).

A connector takes part when it offers ``facts_key`` (what the facts describe: the site as this
account), ``vendor_facts()`` and ``prime(facts)``; the others are left alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bridge.errors import StoreError
from bridge.logging import get_logger
from bridge.sync.engine import Engine

log = get_logger(__name__)

#: how long cached vendor facts are used: a new custom field or a changed profile zone shows within this
VENDOR_FACTS_TTL = timedelta(hours=1)


def _participants(engine: Engine) -> list[tuple[str, Any]]:
    found = []
    for connector in (engine.jira, engine.itsm):
        key = getattr(connector, "facts_key", None)
        if isinstance(key, str) and callable(getattr(connector, "prime", None)) \
                and callable(getattr(connector, "vendor_facts", None)):
            found.append((key, connector))
    return found


def prime_vendor_facts(engine: Engine) -> dict[str, Any]:
    """Hand each connector the facts a run within the last hour kept; returns them by key."""
    primed: dict[str, Any] = {}
    for key, connector in _participants(engine):
        try:
            cached = engine.store.cached(key)
        except StoreError as exc:
            log.warning("could not read the cached vendor facts", error=str(exc))
            continue
        if isinstance(cached, dict):
            connector.prime(cached)
            primed[key] = cached
    return primed


def keep_vendor_facts(engine: Engine, primed: dict[str, Any]) -> None:
    """Store what each connector read this run, when it read something the cache did not hold (so the
    hour counts from the vendor's answer, not from the last run that used the cache). ``primed`` is
    updated with what was stored, so a daemon calling this after every pass writes only what is new."""
    for key, connector in _participants(engine):
        try:
            facts = connector.vendor_facts()
        except Exception as exc:
            log.warning("could not collect the vendor facts", error=str(exc))
            continue
        if not facts or facts == primed.get(key):
            continue
        try:
            engine.store.cache(key, facts, VENDOR_FACTS_TTL)
        except StoreError as exc:
            log.warning("could not cache the vendor facts", error=str(exc))
            continue
        primed[key] = facts
