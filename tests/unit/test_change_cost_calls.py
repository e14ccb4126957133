"""The calls of one change at batch 1, over real HTTP against the sandboxes (bench.change_cost): a new
record costs no marker search and no read of bridge's own back-reference, a person's Jira comment no
comment read, and a warm store none of the one-time reads (issue 17)."""

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


def test_one_change_at_a_time_pays_no_echo_marker_search_or_comment_read() -> None:
    result = change_cost.run(12, 1)
    kinds = result["by_kind"]
    new, comment = kinds["new_record"]["endpoints"], kinds["jira_comment"]["endpoints"]
    changes = kinds["new_record"]["changes"]
    cycles = kinds["new_record"]["cycles"]
    # the change searches only (one per cycle): no marker search before the creates
    assert new["jira POST /rest/api/3/search/jql"] == cycles
    # the new record's comments come with the change search (one ServiceNow Batch API call per cycle,
    # docs/connectors/servicenow.md "Batch API"); its back-reference PATCH is not read again by the next cycle
    assert new["itsm POST /api/now/v1/batch"] == cycles
    assert new.get("itsm GET /api/now/table/sys_journal_field", 0) == 0
    assert changes > 0
    assert "jira GET /rest/api/3/issue/{id}/comment" not in comment
    assert kinds["jira_comment"]["beyond_idle_per_change"] == 1.0  # the work note PATCH alone


# bench.change_cost --warm: a new engine over a store that kept what a first process learnt pays none of the
# one-time reads at batch 1 — the read after a create, the workflow learning, the authors' names.
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
