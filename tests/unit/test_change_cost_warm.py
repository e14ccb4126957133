"""bench.change_cost --warm: a new engine over a store that kept what a first process learnt pays none of
the one-time reads at batch 1 — the read after a create, the workflow learning, the authors' names."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from bench import change_cost

#: sandbox subprocesses: seconds, so the slow tier
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The benchmark configures logging for a process of its own; give the test process its own back."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_warm_store_spares_the_one_time_reads() -> None:
    result = change_cost.run(12, 1, warm=True)
    assert result["warm"] is True
    kinds = result["by_kind"]
    reads = {endpoint for kind in kinds.values() for endpoint in kind["endpoints"] if " GET " in f" {endpoint}"}
    assert not any(e.endswith("/issue/{id}") or e.endswith("/transitions") for e in reads), reads
    assert not any("sys_user" in e or "sys_dictionary" in e for e in reads), reads
    # a new record: the create, the back-reference and the remote link; nothing else beyond the idle cycle
    assert kinds["new_record"]["beyond_idle_per_change"] == 3.0
    assert kinds["itsm_status"]["beyond_idle_per_change"] == 2.0  # the workflow's two transitions
