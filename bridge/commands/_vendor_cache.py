"""One-shot runs keep the vendor facts they read (Jira's field catalogue, the account and its time zone)
in the state store for an hour, so ``bridge sync --once`` from cron or a timer does not re-read
``GET /field`` and ``GET /myself`` before its first search every run.

A connector takes part when it offers ``facts_key`` (what the facts describe: the site as this
account), ``vendor_facts()`` and ``prime(facts)``; the others are left alone. The daemon reads them
once per process and needs none of this.
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
    hour counts from the vendor's answer, not from the last run that used the cache)."""
    for key, connector in _participants(engine):
        facts = connector.vendor_facts()
        if not facts or facts == primed.get(key):
            continue
        try:
            engine.store.cache(key, facts, VENDOR_FACTS_TTL)
        except StoreError as exc:
            log.warning("could not cache the vendor facts", error=str(exc))
