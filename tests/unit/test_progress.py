"""Long runs say how far they are: redrawn on a terminal, a periodic log line otherwise."""

from __future__ import annotations

import io
from pathlib import Path

from structlog.testing import capture_logs

from bridge.progress import LOG_EVERY_SECONDS, MIN_ACTIONS, Progress
from tests.fixtures.engine import World, mapping_spec


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_n_of_total_with_an_eta() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress(out, terminal=True, clock=clock)
    for done in range(1, 251):
        clock.now += 0.2
        progress("incident-to-bug", done, 250)
    text = out.getvalue()
    assert "incident-to-bug: 125 of 250 actions, ETA 0:25" in text
    assert text.endswith("incident-to-bug: 250 of 250 actions in 0:50\n")


def test_without_a_terminal_a_log_line_every_few_seconds() -> None:
    clock = Clock()
    progress = Progress(io.StringIO(), terminal=False, clock=clock)
    with capture_logs() as lines:
        for done in range(1, 101):
            clock.now += 1.0
            progress("m", done, 100)
    logged = [line for line in lines if line["event"] == "progress"]
    assert 100 // LOG_EVERY_SECONDS - 1 <= len(logged) <= 100 // LOG_EVERY_SECONDS + 1
    assert logged[0]["done"] < logged[1]["done"]
    assert logged[-1]["done"] == 100
    assert logged[0]["eta_seconds"] > 0


def test_short_runs_print_nothing() -> None:
    out = io.StringIO()
    progress = Progress(out, terminal=True)
    for done in range(1, MIN_ACTIONS):
        progress("m", done, MIN_ACTIONS - 1)
    assert out.getvalue() == ""


def test_the_executor_reports_each_action(tmp_path: Path) -> None:
    world = World(tmp_path, mapping_spec())
    seen: list[tuple[str, int, int]] = []
    world.engine.progress = lambda mapping, done, total: seen.append((mapping, done, total))
    try:
        for n in range(3):
            world.incident(f"Printer {n}", state="2")
        world.cycle()
    finally:
        world.close()
    assert seen, "no progress reported"
    total = seen[-1][2]
    assert seen[-1] == ("incidents", total, total)
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
