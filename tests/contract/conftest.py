"""Parametrises every contract test over every registered harness (see tests/contract/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.harness import HARNESSES, ConnectorHarness, ItsmSide, JiraSide
from tests.contract.harnesses import load_all

load_all()


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[ConnectorHarness]:
    built = HARNESSES[request.param]()
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def itsm(harness: ConnectorHarness) -> Iterator[ItsmSide]:
    side = harness.make_itsm()
    try:
        yield side
    finally:
        side.connector.close()


@pytest.fixture
def jira(harness: ConnectorHarness) -> Iterator[JiraSide]:
    side = harness.make_jira()
    try:
        yield side
    finally:
        side.connector.close()


@pytest.fixture(params=["itsm", "jira"])
def side(request: pytest.FixtureRequest, harness: ConnectorHarness) -> Iterator[ItsmSide | JiraSide]:
    """Either side of the harness, for behaviour the port demands of both alike."""
    bundle: ItsmSide | JiraSide = harness.make_itsm() if request.param == "itsm" else harness.make_jira()
    try:
        yield bundle
    finally:
        bundle.connector.close()
