"""The composition root builds the real vendor adapters from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.bootstrap import DEFAULT_CONNECTOR_FACTORIES, build_connector, build_connectors
from bridge.connectors.jira import JiraConnector
from bridge.settings import load_settings


def test_jira_connector_knows_the_itsm_it_links_back_to(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "jira:\n  url: https://example.atlassian.net\n  email: bridge@example.com\n"
        "itsm:\n  kind: servicenow\n  url: https://acme.service-now.com\n  username: svc.bridge\n"
    )
    settings = load_settings(config, env={"BRIDGE_JIRA__TOKEN": "t0ken-value", "BRIDGE_ITSM__PASSWORD": "pw-value"})
    connector = build_connector("jira", settings)
    try:
        assert isinstance(connector, JiraConnector)
        assert connector.itsm_base_url == "https://acme.service-now.com"
        assert connector.itsm_application == ("com.servicenow", "ServiceNow")
        assert connector.cloud
    finally:
        connector.close()


def test_mappings_for_another_itsm_do_not_run_and_check_warns(tmp_path: Path) -> None:
    from bridge.bootstrap import build_engine, check_configuration
    from bridge.connectors.memory import MemoryItsm, MemoryJira
    from bridge.mapping.loader import load_or_raise
    from bridge.model import Side

    repo_mappings = Path(__file__).resolve().parents[2] / "mappings"
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "incident-to-bug.yaml").write_text((repo_mappings / "incident-to-bug.yaml").read_text())
    rt = (repo_mappings / "rt-incident-to-bug.yaml").read_text().replace("enabled: false", "enabled: true")
    assert "enabled: true" in rt
    (mappings / "rt-incident-to-bug.yaml").write_text(rt)
    config = tmp_path / "config.yaml"
    config.write_text(
        "jira:\n  url: https://example.atlassian.net\n"
        "itsm:\n  kind: servicenow\n  url: https://acme.service-now.com\n"
        f"state:\n  url: sqlite:///{tmp_path / 'state.sqlite3'}\n"
    )
    settings = load_settings(config, env={})

    errors = [str(p) for p in check_configuration(settings) if p.severity == "error"]
    assert any("rt-incident-to-bug" in e and "written for Request Tracker but itsm.kind is servicenow" in e
               for e in errors)

    engine = build_engine(settings, load_or_raise(mappings), {Side.ITSM: MemoryItsm(), Side.JIRA: MemoryJira()})
    try:
        assert [m.name for m in engine.enabled_mappings()] == ["incident-to-bug"]
    finally:
        engine.close()


def test_factories_are_passed_in_and_override_one_kind_the_defaults_stay_read_only(tmp_path: Path) -> None:
    from bridge.connectors.memory import MemoryItsm
    from bridge.model import Side

    config = tmp_path / "config.yaml"
    config.write_text(
        "jira:\n  url: https://example.atlassian.net\n  email: bridge@example.com\n"
        "itsm:\n  kind: servicenow\n  url: https://acme.service-now.com\n  username: svc.bridge\n"
    )
    settings = load_settings(config, env={"BRIDGE_JIRA__TOKEN": "t0ken-value", "BRIDGE_ITSM__PASSWORD": "pw-value"})
    itsm = MemoryItsm()
    connectors = build_connectors(settings, {"servicenow": lambda s: itsm})
    try:
        assert connectors[Side.ITSM] is itsm
        assert isinstance(connectors[Side.JIRA], JiraConnector)  # the kind not overridden stays real
    finally:
        for connector in connectors.values():
            connector.close()
    with pytest.raises(TypeError):
        DEFAULT_CONNECTOR_FACTORIES["servicenow"] = lambda s: itsm  # type: ignore[index]


@pytest.mark.parametrize(
    ("engine_yaml", "parallel", "workers"),
    [("", True, 2), ("engine:\n  parallel_sides: false\n  workers_per_side: 1\n", False, 1),
     ("engine:\n  workers_per_side: 4\n", True, 4)],
)
def test_engine_settings_reach_the_engine_and_default_to_both_sides_at_once(
    tmp_path: Path, engine_yaml: str, parallel: bool, workers: int
) -> None:
    """The shipped CLI and daemon run what the backlog benchmark measured, unless the operator says otherwise."""
    from bridge.bootstrap import build_engine
    from bridge.connectors.memory import MemoryItsm, MemoryJira
    from bridge.model import Side

    config = tmp_path / "config.yaml"
    config.write_text(
        "jira:\n  url: https://example.atlassian.net\n"
        "itsm:\n  kind: servicenow\n  url: https://acme.service-now.com\n"
        f"state:\n  url: sqlite:///{tmp_path / 'state.sqlite3'}\n" + engine_yaml
    )
    settings = load_settings(config, env={})
    engine = build_engine(settings, [], {Side.ITSM: MemoryItsm(), Side.JIRA: MemoryJira()})
    try:
        assert engine.options.parallel_sides is parallel
        assert engine.options.workers_per_side == workers
    finally:
        engine.close()


def test_engine_workers_per_side_is_bounded(tmp_path: Path) -> None:
    from bridge.errors import ConfigError

    config = tmp_path / "config.yaml"
    config.write_text(
        "jira:\n  url: https://example.atlassian.net\n"
        "itsm:\n  kind: servicenow\n  url: https://acme.service-now.com\n"
        "engine:\n  workers_per_side: 0\n"
    )
    with pytest.raises(ConfigError):
        load_settings(config, env={})
