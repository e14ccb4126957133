"""A mini-cycle of hinted items: webhooks as hints, polling as the truth.

A webhook (:mod:`bridge.hints`) says "this item changed" seconds after the change; waiting for the next
poll would cost up to an interval. :func:`run_hinted` reads ONLY the hinted items, by id (one batched
read per side, :meth:`~bridge.connectors.base.Connector.get_many`), and runs them through the same steps
as a cycle: reconcile, plan (pure), execute, remember the processed versions. What it never does is move
a cursor: the next poll still reads everything since the cursors and skips the hinted changes by their
processed version, so a lost, forged or late hint costs nothing but the normal interval, and a hint can
never make bridge skip a change.

A hint names an item, not what changed: the item is read fresh, so a replayed hint re-reads the same
version and plans nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import structlog

from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref
from bridge.sync.cycle import CycleReport, _cycle, _log_summary, _measured
from bridge.sync.engine import Engine

log = get_logger(__name__)


def run_hinted(engine: Engine, mapping: MappingSpec | str, refs: Sequence[Ref]) -> CycleReport:
    """One mini-cycle of ``mapping`` over ``refs`` (both sides mixed). Raises
    :class:`~bridge.errors.LockHeldError` on a standby replica, like :func:`~bridge.sync.cycle.run_cycle`."""
    spec = engine.mapping(mapping) if isinstance(mapping, str) else mapping
    report = CycleReport(spec.name, uuid.uuid4().hex[:12], hinted=True)
    wanted = list(dict.fromkeys(refs))
    with structlog.contextvars.bound_contextvars(cycle=report.cycle_id, mapping=spec.name, hinted=len(wanted)):
        engine.lead(spec.name)
        if not wanted:
            return report
        with _measured(engine, report):
            _cycle(engine, spec, report, since=None, hinted=wanted)
        _log_summary("hinted cycle finished", report)
    return report


__all__ = ["run_hinted"]
