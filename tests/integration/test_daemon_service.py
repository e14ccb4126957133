"""The daemon as a service: ``/metrics`` and ``/healthz`` over real HTTP while it syncs, systemd
notifications on a real datagram socket, a standby replica that stays healthy.

The daemon runs in-process in a thread with the memory connectors (``tests/fixtures/engine.py``), bound
to a free port on 127.0.0.1, exactly as ``bridge run`` starts it (``Daemon.run_forever``).
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.daemon import Daemon
from bridge.errors import ConfigError
from bridge.store import Store
from bridge.sync.cycle import CycleReport
from bridge.sync.engine import Engine
from tests.fixtures.engine import World, mapping_spec


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


class Running:
    """A daemon in a thread; :meth:`wait_cycles` blocks until it reported ``n`` cycles."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.cycles: list[tuple[str, CycleReport | BaseException]] = []
        self._cond = threading.Condition()
        daemon.on_cycle = self._seen
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _seen(self, name: str, result: CycleReport | BaseException) -> None:
        with self._cond:
            self.cycles.append((name, result))
            self._cond.notify_all()

    def _run(self) -> None:
        self.exit_code = self.daemon.run_forever(install_signals=False)

    def wait_cycles(self, n: int, timeout: float = 20.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.cycles) >= n, timeout), f"only {len(self.cycles)} cycle(s)"

    def url(self) -> str:
        deadline = threading.Event()
        for _ in range(200):
            if self.daemon.server is not None:
                return self.daemon.server.url
            deadline.wait(0.05)
        raise AssertionError("the metrics server did not start")

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.daemon.request_stop()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test server
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_run_serves_metrics_and_health_fed_by_its_cycles(world: World) -> None:
    world.incident("Printer on fire", state="2")
    daemon = Daemon(world.engine, interval_seconds=3600, metrics_bind="127.0.0.1:0")
    with Running(daemon) as running:
        running.wait_cycles(1)
        base = running.url()
        status, body = get(base + "/metrics")
        assert status == 200
        values = samples(body)
        assert values[("bridge_cycles_total", (("mapping", "incidents"), ("outcome", "ok")))] == 1
        assert values[("bridge_leader", (("mapping", "incidents"),))] == 1
        assert values[("bridge_links", (("mapping", "incidents"),))] == 1
        assert values[("bridge_schedule_interval_seconds", ())] == 3600
        done = ("bridge_actions_total", (("kind", "CreateIssue"), ("mapping", "incidents"), ("outcome", "done")))
        assert values[done] == 1
        assert ("bridge_last_success_timestamp_seconds", (("mapping", "incidents"),)) in values
        status, body = get(base + "/healthz")
        health = json.loads(body)
        assert (status, health["status"]) == (200, "ok")
        assert health["mappings"]["incidents"]["ok"] is True
        assert health["mappings"]["incidents"]["last_success"] is not None
    assert running.exit_code == 0
    assert daemon.server is None  # stopped with the daemon: the port is free again


def test_a_failing_mapping_shows_in_health_and_metrics(world: World) -> None:
    from bridge.errors import TransientError

    world.itsm.fail_next("search_changed", TransientError("itsm down", side="itsm", status=503))
    daemon = Daemon(world.engine, interval_seconds=3600, metrics_bind="127.0.0.1:0")
    with Running(daemon) as running:
        running.wait_cycles(1)
        base = running.url()
        values = samples(get(base + "/metrics")[1])
        assert values[("bridge_cycles_total", (("mapping", "incidents"), ("outcome", "failed")))] == 1
        assert values[("bridge_cycles_total", (("mapping", "incidents"), ("outcome", "ok")))] == 0
        status, body = get(base + "/healthz")
        health = json.loads(body)
        # one failed cycle is within the start grace period: healthy, but the last cycle says it failed
        assert (status, health["status"]) == (200, "starting")
        assert health["mappings"]["incidents"]["ok"] is False


def test_a_standby_replica_is_healthy_and_not_leader(world: World) -> None:
    other = Store.open(world.url)
    replica = Engine(other, world.itsm, world.jira, [world.spec], clock=world.clock)
    world.engine.lead("incidents")  # another process leads
    daemon = Daemon(replica, interval_seconds=3600, metrics_bind="127.0.0.1:0")
    try:
        with Running(daemon) as running:
            running.wait_cycles(1)
            base = running.url()
            status, body = get(base + "/healthz")
            health = json.loads(body)
            assert (status, health["status"]) == (200, "standby")
            assert health["mappings"]["incidents"]["standby"] is True
            values = samples(get(base + "/metrics")[1])
            assert values[("bridge_leader", (("mapping", "incidents"),))] == 0
            # a standby's attempts are no cycles: nothing that a staleness alert could read
            assert ("bridge_cycles_total", (("mapping", "incidents"), ("outcome", "failed"))) not in values
            assert not any(name == "bridge_seconds_since_last_success" for name, _ in values)
            assert "standby for incidents" in daemon.status_line()
    finally:
        other.close()


def test_a_taken_metrics_port_is_a_configuration_error(world: World) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = Daemon(world.engine, interval_seconds=3600, metrics_bind=f"127.0.0.1:{port}")
        with pytest.raises(ConfigError, match="cannot serve metrics"):
            daemon.run_forever(install_signals=False)


class NotifySocket:
    """systemd's end of sd_notify: a datagram socket collecting what the daemon says."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(10)

    def next(self) -> str:
        return self.sock.recv(4096).decode()

    def until(self, prefix: str, limit: int = 50) -> list[str]:
        seen = []
        for _ in range(limit):
            message = self.next()
            seen.append(message)
            if message.startswith(prefix):
                return seen
        raise AssertionError(f"no {prefix!r} among {seen}")


def test_systemd_hears_ready_status_watchdog_and_stopping(world: World, tmp_path: Path) -> None:
    world.incident(state="2")
    systemd = NotifySocket(tmp_path / "notify.sock")
    import os

    env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())}
    daemon = Daemon(world.engine, interval_seconds=3600, environ=env)
    try:
        with Running(daemon) as running:
            ready = systemd.until("READY=1")[-1]
            assert "STATUS=leader of 1 of 1 mapping(s)" in ready
            running.wait_cycles(1)
            messages = systemd.until("STATUS=")
            assert "last cycle" in messages[-1]
            assert "1 ok, 0 failed" in messages[-1]
            assert systemd.until("WATCHDOG=1")  # pinged every 0.1 s by a scheduler job
            assert systemd.until("WATCHDOG=1")
        assert systemd.until("STOPPING=1")
    finally:
        systemd.sock.close()


def test_a_replica_that_took_over_leads_even_when_its_first_cycle_fails(world: World) -> None:
    from bridge.errors import TransientError

    other = Store.open(world.url)
    replica = Engine(other, world.itsm, world.jira, [world.spec], clock=world.clock)
    world.engine.lead("incidents")
    daemon = Daemon(replica, interval_seconds=3600, takeover_grace_seconds=0, metrics_bind="127.0.0.1:0")
    try:
        daemon.decide_leadership()
        assert daemon.standby == {"incidents"}
        world.store.release_lock("incidents")  # the leader goes away
        world.itsm.fail_next("search_changed", TransientError("itsm down", side="itsm", status=503))
        result = daemon.run_all()["incidents"]
        assert isinstance(result, TransientError)
        assert daemon.standby == set()
        assert "leader of 1 of 1 mapping(s)" in daemon.status_line()
        assert "0 ok, 1 failed" in daemon.status_line()
        body = daemon.health.check().body
        assert body["mappings"]["incidents"]["standby"] is False
        assert body["mappings"]["incidents"]["ok"] is False
        assert replica.metrics is not None
        exposed = replica.metrics.exposition().decode()
        assert 'bridge_leader{mapping="incidents"} 1.0' in exposed
    finally:
        other.close()
