"""load_settings(): sources, precedence, paths, credential files and error reporting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.settings import CREDENTIAL_FILES, Settings, load_settings

MINIMAL = """\
jira:
  url: https://example.atlassian.net
itsm:
  kind: servicenow
  url: https://example.service-now.com
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return excinfo.value.problems


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write(tmp_path / "etc" / "config.yaml", MINIMAL)


def test_defaults_from_minimal_file(config: Path) -> None:
    settings = load_settings(config, env={})
    assert settings.config_file == config
    assert settings.schedule.interval_seconds == 60
    assert settings.schedule.misfire_grace_seconds == 60
    assert settings.jira.deployment == "cloud"
    assert settings.jira.verify_tls is True
    assert settings.jira.timeout_seconds.as_tuple() == (5.0, 30.0)
    assert settings.jira.requests_per_second == 5.0
    assert settings.logging.level == "INFO"
    assert settings.logging.format == "auto"
    assert settings.metrics.bind is None
    assert settings.warnings == []


def test_state_defaults_to_sqlite_next_to_config_file(config: Path) -> None:
    settings = load_settings(config, env={})
    assert settings.state.url is not None
    assert settings.state.url.get_secret_value() == f"sqlite:///{config.parent / 'bridge.sqlite3'}"


def test_state_directory_from_systemd_wins(config: Path, tmp_path: Path) -> None:
    settings = load_settings(config, env={"STATE_DIRECTORY": f"{tmp_path}/state:/other"})
    assert settings.state.url is not None
    assert settings.state.url.get_secret_value() == f"sqlite:///{tmp_path}/state/bridge.sqlite3"


def test_without_config_file_state_and_mappings_are_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "BRIDGE_JIRA__URL": "https://example.atlassian.net",
        "BRIDGE_ITSM__KIND": "rt",
        "BRIDGE_ITSM__URL": "https://rt.example.org",
    }
    settings = load_settings(None, env=env)  # ./config.yaml missing: fine
    assert settings.config_file is None
    assert settings.state.url is not None
    assert settings.state.url.get_secret_value() == f"sqlite:///{tmp_path}/bridge.sqlite3"
    assert settings.mappings.directory == tmp_path / "mappings"


def test_default_config_yaml_in_cwd_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.yaml", MINIMAL)
    monkeypatch.chdir(tmp_path)
    assert load_settings(None, env={}).config_file == tmp_path / "config.yaml"


def test_bridge_config_env_names_the_file(config: Path) -> None:
    assert load_settings(None, env={"BRIDGE_CONFIG": str(config)}).config_file == config


@pytest.mark.parametrize("how", ["argument", "env"])
def test_missing_explicit_config_is_an_error(tmp_path: Path, how: str) -> None:
    missing = tmp_path / "nope.yaml"
    path, env = (missing, {}) if how == "argument" else (None, {"BRIDGE_CONFIG": str(missing)})
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, env=env)
    assert problems_of(excinfo) == [f"{missing}: config file not found (expected a YAML file)"]


def test_relative_paths_resolve_against_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "etc" / "config.yaml",
        MINIMAL + "mappings:\n  directory: maps\nstate:\n  url: sqlite:///data/b.db\n",
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("etc/config.yaml"), env={"BRIDGE_JIRA__CA_BUNDLE": "ca.pem"})
    assert settings.mappings.directory == config.parent / "maps"
    assert settings.jira.ca_bundle == config.parent / "ca.pem"
    assert settings.state.url is not None
    assert settings.state.url.get_secret_value() == f"sqlite:///{config.parent}/data/b.db"


def test_precedence_yaml_env_credentials(config: Path, tmp_path: Path) -> None:
    write(config, MINIMAL.replace("kind: servicenow", "kind: servicenow\n  token: from-yaml-token"))
    creds = tmp_path / "creds"
    write(creds / "itsm_token", "from-credentials-token\n")
    env = {
        "BRIDGE_ITSM__TOKEN": "from-env-token",
        "BRIDGE_JIRA__TOKEN": "from-env-jira",
        "BRIDGE_SCHEDULE__INTERVAL_SECONDS": "300",
    }
    settings = load_settings(config, env=env)
    assert settings.itsm.token is not None
    assert settings.itsm.token.get_secret_value() == "from-env-token"
    settings = load_settings(config, env={**env, "CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.itsm.token is not None
    assert settings.itsm.token.get_secret_value() == "from-credentials-token"
    # Nested merge: env overrides one field, the file's other fields stay.
    assert settings.itsm.url == "https://example.service-now.com"
    assert settings.schedule.interval_seconds == 300
    assert settings.schedule.misfire_grace_seconds == 300
    assert settings.jira.token is not None
    assert settings.jira.token.get_secret_value() == "from-env-jira"


def test_env_var_names_are_case_insensitive(config: Path) -> None:
    settings = load_settings(config, env={"bridge_logging__level": "debug"})
    assert settings.logging.level == "DEBUG"


def test_credential_file_names(config: Path, tmp_path: Path) -> None:
    """The documented names, one file per secret, trailing newline stripped."""
    assert set(CREDENTIAL_FILES) == {
        "jira_token",
        "itsm_password",
        "itsm_token",
        "state_url",
        "state_password",
        "hints_jira_secret",
        "hints_jira_url_token",
        "hints_itsm_token",
    }
    write(config, MINIMAL.replace("kind: servicenow", "kind: servicenow\n  username: svc"))
    creds = tmp_path / "creds"
    write(creds / "jira_token", "jira-secret-1\n")
    write(creds / "itsm_password", "itsm-secret-2\n")
    write(creds / "state_url", "postgresql+psycopg://bridge@db.internal/bridge\n")
    write(creds / "state_password", "p@ss/word:3\n")
    write(creds / "unrelated", "ignored")
    settings = load_settings(config, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.jira.token is not None
    assert settings.jira.token.get_secret_value() == "jira-secret-1"
    assert settings.itsm.password is not None
    assert settings.itsm.password.get_secret_value() == "itsm-secret-2"
    assert settings.state.url is not None
    # The separate password is inserted into the URL, quoted.
    assert (
        settings.state.url.get_secret_value()
        == "postgresql+psycopg://bridge:p%40ss%2Fword%3A3@db.internal/bridge"
    )
    assert settings.state.display_url() == "postgresql+psycopg://bridge:***@db.internal/bridge"


def test_itsm_token_credential_file(config: Path, tmp_path: Path) -> None:
    write(tmp_path / "c" / "itsm_token", "tok-abcdef")
    settings = load_settings(config, env={"CREDENTIALS_DIRECTORY": str(tmp_path / "c")})
    assert settings.itsm.token is not None
    assert settings.itsm.token.get_secret_value() == "tok-abcdef"


def test_secrets_never_in_str_or_repr(config: Path, tmp_path: Path) -> None:
    write(config, MINIMAL.replace("kind: servicenow", "kind: servicenow\n  username: svc"))
    env = {
        "BRIDGE_JIRA__TOKEN": "SEKRIT-jira-123",
        "BRIDGE_ITSM__PASSWORD": "SEKRIT-itsm-456",
        "BRIDGE_STATE__URL": "postgresql+psycopg://u:SEKRIT-db-789@h/db",
    }
    settings = load_settings(config, env=env)
    for text in (str(settings), repr(settings), str(settings.model_dump()), settings.model_dump_json()):
        assert "SEKRIT" not in text
    assert "SEKRIT" not in settings.state.display_url()
    assert set(settings.secret_values()) >= {"SEKRIT-jira-123", "SEKRIT-itsm-456", "SEKRIT-db-789"}


def test_every_problem_at_once_with_file_and_line(config: Path) -> None:
    write(
        config,
        """\
jira:
  url: https://example.atlassian.net
  deployment: onprem
  timeout_seconds: {connect: -1, read: 10}
itsm:
  kind: servicenow
  url: ftp://example
schedule:
  interval_seconds: soon
""",
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={})
    problems = problems_of(excinfo)
    assert len(problems) == 4, problems
    assert f"{config}:3: jira.deployment: invalid choice (expected 'cloud' or 'datacenter')" in problems
    assert any(
        p.startswith(f"{config}:4: jira.timeout_seconds.connect: ") and "(expected > 0" in p for p in problems
    )
    assert any(p.startswith(f"{config}:7: itsm.url: not an http(s) URL (expected") for p in problems)
    assert any(p.startswith(f"{config}:9: schedule.interval_seconds: ") for p in problems)
    pattern = re.compile(r"^.+:\d+: [a-z_.]+: .+\(expected .+\)$")
    assert all(pattern.match(p) for p in problems), problems


def test_unknown_keys_get_did_you_mean(config: Path) -> None:
    write(config, MINIMAL + "schedul:\n  interval_seconds: 5\nlogging:\n  levle: DEBUG\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={})
    problems = problems_of(excinfo)
    assert any(p.startswith(f"{config}:6: schedul: unknown key; did you mean 'schedule'?") for p in problems)
    assert any(
        p.startswith(f"{config}:9: logging.levle: unknown key; did you mean 'level'?") for p in problems
    )


def test_env_errors_name_the_variable(config: Path) -> None:
    env = {
        "BRIDGE_SCHEDULE__INTERVAL_SECONDS": "0",
        "BRIDGE_JIRA__TOKNE": "x",
        "BRIDGE_REQUIRE_INTEGRATION": "1",
    }
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env=env)
    problems = problems_of(excinfo)
    assert len(problems) == 2, problems
    assert any(
        p.startswith("env BRIDGE_SCHEDULE__INTERVAL_SECONDS: schedule.interval_seconds: ") for p in problems
    )
    assert any(
        p.startswith("env BRIDGE_JIRA__TOKNE: jira.tokne: unknown key; did you mean 'token'?")
        for p in problems
    )


def test_missing_required_settings(tmp_path: Path) -> None:
    config = write(tmp_path / "config.yaml", "jira:\n  deployment: cloud\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={})
    problems = problems_of(excinfo)
    assert (
        f"{config}:1: jira.url: required setting is missing "
        "(expected a value in the config file or BRIDGE_JIRA__URL)"
        in problems
    )
    assert any(p.startswith(f"{config}: itsm: required setting is missing") for p in problems)


def test_yaml_syntax_error_has_line(config: Path) -> None:
    write(config, MINIMAL + "logging:\n  level: [INFO\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={})
    (problem,) = problems_of(excinfo)
    assert re.match(rf"^{re.escape(str(config))}:\d+: .+\(expected valid YAML\)$", problem)


def test_duplicate_keys_are_errors(config: Path) -> None:
    write(config, MINIMAL + "logging:\n  level: INFO\n  level: DEBUG\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={})
    assert re.match(rf"^{re.escape(str(config))}:\d+: ", problems_of(excinfo)[0])


def test_top_level_must_be_a_mapping(config: Path) -> None:
    write(config, "- a\n- b\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={})
    assert problems_of(excinfo) == [
        f"{config}:1: <root>: not a mapping (expected section: keys at top level)"
    ]


def test_plain_text_secret_in_yaml_is_accepted_with_warning(config: Path) -> None:
    write(
        config,
        MINIMAL.replace(
            "url: https://example.atlassian.net", "url: https://example.atlassian.net\n  token: in-file-1"
        )
        + "state:\n  url: postgresql+psycopg://bridge@db/bridge\n",
    )
    settings = load_settings(config, env={})
    assert settings.jira.token is not None
    assert settings.jira.token.get_secret_value() == "in-file-1"
    (warning,) = settings.warnings  # a state URL without a password is not a secret
    assert warning.startswith(f"{config}:3: jira.token: secret written in plain text")
    assert "BRIDGE_JIRA__TOKEN" in warning
    assert "'jira_token'" in warning
    assert "in-file-1" not in warning


def test_itsm_auth_is_one_method(config: Path) -> None:
    env = {
        "BRIDGE_ITSM__TOKEN": "tok-123456",
        "BRIDGE_ITSM__USERNAME": "u",
        "BRIDGE_ITSM__PASSWORD": "pw-123456",
    }
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env=env)
    assert any("either username + password or token" in p for p in problems_of(excinfo))


def test_state_password_needs_user_in_url(config: Path) -> None:
    env = {"BRIDGE_STATE__URL": "postgresql+psycopg://db/bridge", "BRIDGE_STATE__PASSWORD": "pw-123456"}
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env=env)
    (problem,) = problems_of(excinfo)
    assert problem.startswith("env BRIDGE_STATE__")
    assert "names no user" in problem


@pytest.mark.parametrize(
    ("bind", "ok"), [("127.0.0.1:9464", True), ("[::1]:9464", True), ("9464", False), ("h:0", False)]
)
def test_metrics_bind(config: Path, bind: str, ok: bool) -> None:
    env = {"BRIDGE_METRICS__BIND": bind}
    if ok:
        assert load_settings(config, env=env).metrics.bind == bind
    else:
        with pytest.raises(ConfigError):
            load_settings(config, env=env)


def test_timeout_shorthand_sets_both(config: Path) -> None:
    write(config, MINIMAL.replace("kind: servicenow", "kind: servicenow\n  timeout_seconds: 12"))
    assert load_settings(config, env={}).itsm.timeout_seconds.as_tuple() == (12.0, 12.0)


def test_problems_never_echo_secret_input(config: Path) -> None:
    write(config, MINIMAL.replace("kind: servicenow", "kind: servicenow\n  token: [not-a-string-SEKRIT]"))
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={"BRIDGE_JIRA__TOKEN": "", "BRIDGE_STATE__PASSWORD": "SEKRIT-x"})
    assert "SEKRIT" not in "\n".join(problems_of(excinfo)) + str(excinfo.value)


def test_settings_without_load_settings_use_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_JIRA__URL", "https://example.atlassian.net")
    monkeypatch.setenv("BRIDGE_ITSM__KIND", "jsm")
    monkeypatch.setenv("BRIDGE_ITSM__URL", "https://example.atlassian.net")
    assert Settings().itsm.kind == "jsm"  # type: ignore[call-arg]


def test_loads_do_not_share_state(tmp_path: Path) -> None:
    """Path resolution mutates the section objects: defaults must not be shared between loads."""
    first = load_settings(write(tmp_path / "a" / "config.yaml", MINIMAL), env={})
    second = load_settings(write(tmp_path / "b" / "config.yaml", MINIMAL), env={})
    assert first.mappings.directory == tmp_path / "a" / "mappings"
    assert second.mappings.directory == tmp_path / "b" / "mappings"
    assert first.state.url is not None
    assert first.state.url.get_secret_value().endswith("/a/bridge.sqlite3")


def test_alias_bomb_is_a_configuration_error(config: Path) -> None:
    """Aliases that repeat a block at every level expand exponentially: refused, never expanded."""
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(5)]
    write(config, MINIMAL + "x-bomb:\n" + "".join(f"  {line}\n" for line in levels))
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={})
    assert problems_of(excinfo) == [
        f"{config}:1: <root>: the file expands to more than 50000 values "
        "(expected a config file without aliases that repeat large blocks)"
    ]


def test_dates_are_not_taken_for_text(config: Path) -> None:
    """A YAML date where text is expected is a type error, as pydantic reports it (not silently its text)."""
    write(config, MINIMAL + "  timezone: 2026-03-01\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, env={})
    assert problems_of(excinfo) == [
        f"{config}:6: itsm.timezone: Input should be a valid string (expected a string)"
    ]
