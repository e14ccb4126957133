"""The composition root builds the real vendor adapters from the settings."""

from __future__ import annotations

from pathlib import Path

from bridge.bootstrap import CONNECTOR_FACTORIES
from bridge.connectors.jira import JiraConnector
from bridge.settings import load_settings


def test_jira_connector_knows_the_itsm_it_links_back_to(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "jira:\n  url: https://example.atlassian.net\n  email: bridge@example.com\n"
        "itsm:\n  kind: servicenow\n  url: https://acme.service-now.com\n  username: svc.bridge\n"
    )
    settings = load_settings(config, env={"BRIDGE_JIRA__TOKEN": "t0ken-value", "BRIDGE_ITSM__PASSWORD": "pw-value"})
    connector = CONNECTOR_FACTORIES["jira"](settings)
    try:
        assert isinstance(connector, JiraConnector)
        assert connector.itsm_base_url == "https://acme.service-now.com"
        assert connector.itsm_application == ("com.servicenow", "ServiceNow")
        assert connector.cloud
    finally:
        connector.close()
