"""Metrics through the CLI: ``bridge run`` serving ``/metrics`` and ``/healthz`` on ``metrics.bind``, and
``bridge sync --once --textfile PATH`` writing the one-shot run's metrics for node_exporter's textfile
collector, with the last success remembered across runs by the state store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from prometheus_client.parser import text_string_to_metric_families

from bridge.cli import cli
from bridge.errors import TransientError
from tests.fixtures.engine import World, cli_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = cli_world(tmp_path, monkeypatch, config_extra="schedule:\n  interval_seconds: 300\n", level="CRITICAL")
    yield w
    w.close()


def bridge(world: World, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(world.path / "config.yaml"), *args], obj=world.cli_options())


def read(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


M = (("mapping", "incidents"),)


def test_textfile_holds_the_runs_metrics(world: World) -> None:
    world.incident(state="2")
    target = world.path / "bridge.prom"
    result = bridge(world, "sync", "--once", "--textfile", str(target))
    assert result.exit_code == 0, result.output
    values = read(target)
    assert values[("bridge_cycles_total", (("mapping", "incidents"), ("outcome", "ok")))] == 1
    assert values[("bridge_schedule_interval_seconds", ())] == 300
    assert values[("bridge_links", M)] == 1
    for kind in ("action_failed", "conflict", "plan_problem"):
        assert values[("bridge_error_list_size", (("kind", kind), ("mapping", "incidents")))] == 0
    assert values[("bridge_oldest_pending_action_age_seconds", M)] == 0
    assert target.stat().st_mode & 0o777 == 0o644  # node_exporter runs as another user
    assert not list(world.path.glob(".bridge.prom.*"))  # no temporary file left behind


def test_a_failed_run_still_reports_the_last_success_from_the_store(world: World) -> None:
    target = world.path / "bridge.prom"
    assert bridge(world, "sync", "--once", "--textfile", str(target)).exit_code == 0
    first_success = read(target)[("bridge_last_success_timestamp_seconds", M)]
    stored = world.store.mapping_statuses()["incidents"]
    assert stored.last_ok is True
    assert stored.last_success is not None
    assert stored.last_success.timestamp() == pytest.approx(first_success, abs=1)

    world.itsm.fail_next("search_changed", TransientError("itsm down", side="itsm", status=503))
    result = bridge(world, "sync", "--once", "--textfile", str(target))
    assert result.exit_code == 3, result.output
    values = read(target)
    assert values[("bridge_cycles_total", (("mapping", "incidents"), ("outcome", "failed")))] == 1
    # the earlier success survives the new process: the staleness alert measures from it
    assert values[("bridge_last_success_timestamp_seconds", M)] == pytest.approx(first_success, abs=1)
    assert values[("bridge_last_cycle_timestamp_seconds", M)] >= first_success
    stored = world.store.mapping_statuses()["incidents"]
    assert stored.last_ok is False
    assert stored.last_success is not None
    assert stored.last_success.timestamp() == pytest.approx(first_success, abs=1)


def test_textfile_must_end_in_prom(world: World) -> None:
    result = bridge(world, "sync", "--once", "--textfile", str(world.path / "bridge.txt"))
    assert result.exit_code == 2
    assert ".prom" in result.output
    assert not (world.path / "bridge.txt").exists()


def test_an_unwritable_textfile_fails_the_run_with_the_config_code(world: World) -> None:
    result = bridge(world, "sync", "--once", "--textfile", str(world.path / "missing-dir" / "bridge.prom"))
    assert result.exit_code == 2
    assert "could not write the metrics textfile" in result.output
    assert world.store.mapping_statuses()["incidents"].last_ok is True  # the sync itself happened


def test_run_serves_metrics_and_health_on_the_configured_address(world: World) -> None:
    import json
    import os
    import signal
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = world.path / "config.yaml"
    config.write_text(config.read_text() + f"metrics:\n  bind: 127.0.0.1:{port}\n")
    record = world.incident(state="2")
    scraped: dict[str, bytes] = {}

    def scrape_then_stop(operation: str, ref: object) -> None:
        if operation == "write_back_reference":  # mid-cycle: the server is up while the daemon works
            for path in ("/metrics", "/healthz"):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                    scraped[path] = answer.read()
            os.kill(os.getpid(), signal.SIGTERM)

    world.itsm.after_write = scrape_then_stop
    result = bridge(world, "run")
    assert result.exit_code == 0, result.output
    assert world.issue_of(record) == "OPS-1"
    families = {f.name: f for f in text_string_to_metric_families(scraped["/metrics"].decode())}
    [interval] = families["bridge_schedule_interval_seconds"].samples
    assert interval.value == 300  # the configured schedule
    [running] = [s for s in families["bridge_cycle_running"].samples if s.labels == {"mapping": "incidents"}]
    assert running.value == 1  # scraped during the first cycle
    health = json.loads(scraped["/healthz"])
    assert health["status"] == "starting"
    assert health["interval_s"] == 300
    with socket.socket() as again:  # the daemon freed the port on its way out (a restart can listen again)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()
