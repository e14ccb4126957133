"""HealthState with replicas: a mapping another replica leads is shown, never judged."""

from __future__ import annotations

from bridge.health import HealthState


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_replica_leading_nothing_is_healthy_standby() -> None:
    clock = Clock()
    health = HealthState(60, ["a", "b"], clock=clock)
    health.set_standby("a", True)
    health.set_standby("b", True)
    clock.now += 3600  # long past the start grace period: a leader would be unhealthy by now
    report = health.check()
    assert (report.http_status, report.body["status"]) == (200, "standby")
    assert report.body["mappings"]["a"]["standby"] is True


def test_only_the_mappings_led_here_are_judged() -> None:
    clock = Clock()
    health = HealthState(60, ["a", "b"], clock=clock)
    health.set_standby("b", True)
    health.cycle_finished("a", ok=True)
    clock.now += 170
    report = health.check()
    assert (report.http_status, report.body["status"]) == (200, "ok")
    assert report.body["reason"] == "every mapping led here synced recently"
    clock.now += 20  # a's success is now 190 s old: beyond 3 intervals
    report = health.check()
    assert report.http_status == 503
    assert report.body["reason"].startswith("a: last successful cycle 190s ago")


def test_taking_a_mapping_over_makes_it_judged_again() -> None:
    clock = Clock()
    health = HealthState(60, ["a"], clock=clock)
    health.set_standby("a", True)
    clock.now += 1000
    assert health.check().http_status == 200
    health.set_standby("a", False)  # the leader died; this replica leads now, but has not synced yet
    report = health.check()
    # a first cycle after taking over may work off a backlog: the start grace period applies again
    assert (report.http_status, report.body["status"]) == (200, "starting")
    clock.now += 181
    report = health.check()
    assert report.http_status == 503
    assert report.body["reason"] == "a: no successful cycle in 181s since taking it over (limit 180s)"
    health.cycle_finished("a", ok=True)
    assert health.check().body["status"] == "ok"


def test_an_old_success_from_before_standby_does_not_count_after_taking_over() -> None:
    clock = Clock()
    health = HealthState(60, ["a"], clock=clock)
    health.cycle_finished("a", ok=True)
    health.set_standby("a", True)
    clock.now += 600
    health.set_standby("a", False)
    assert health.check().body["status"] == "starting"  # not "unhealthy: last success 600 s ago"
