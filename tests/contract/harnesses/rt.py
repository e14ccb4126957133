"""Request Tracker 5 — RTConnector against the real RT the session starts (tests/fixtures/rt.py)."""

from __future__ import annotations

from tests.contract.harness import register
from tests.fixtures.rt_contract import RTHarness

register("rt")(RTHarness)
