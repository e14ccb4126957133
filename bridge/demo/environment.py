"""The demo's world: both sandboxes on loopback, a work directory, a config file and credential files.

The config is an ordinary bridge config file (the one a user would write for their own instances),
so the demo goes through :func:`bridge.settings.load_settings` like every command. The secrets go
into a credentials directory, the way systemd's ``LoadCredential=`` hands them over, and are never
printed: the config file names no secret at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML

from bridge.errors import ConfigError
from bridge.sandbox.jira import BRIDGE_EMAIL, BRIDGE_PAT, BRIDGE_TOKEN, JiraSandbox
from bridge.sandbox.server import SandboxServer
from bridge.sandbox.servicenow import API_PASSWORD, API_USER, ServiceNowSandbox

#: The sandboxes answer in milliseconds; bridge's default budget (5 requests/s, for real vendors'
#: rate limits) would only make the demo wait.
DEMO_REQUESTS_PER_SECOND = 100.0


@dataclass
class DemoEnvironment:
    """Everything the scenario acts on. ``temporary``: the work directory is removed at the end."""

    workdir: Path
    temporary: bool
    jira_mode: str
    mappings_dir: Path
    jira: JiraSandbox
    snow: ServiceNowSandbox
    jira_server: SandboxServer
    snow_server: SandboxServer
    config_file: Path
    credentials_dir: Path

    @property
    def jira_url(self) -> str:
        return self.jira_server.url

    @property
    def snow_url(self) -> str:
        return self.snow_server.url

    def secrets(self) -> list[str]:
        """The sandbox credentials bridge uses (for tests and redaction; never printed)."""
        return [BRIDGE_TOKEN if self.jira_mode == "cloud" else BRIDGE_PAT, API_PASSWORD]

    def settings_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment :func:`load_settings` sees: the caller's, minus any ``BRIDGE_*`` setting or
        systemd directory that would point the demo at a real instance, plus the demo's credentials."""
        source = os.environ if environ is None else environ
        env = {
            k: v
            for k, v in source.items()
            if not k.startswith("BRIDGE_") and k not in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY")
        }
        env["CREDENTIALS_DIRECTORY"] = str(self.credentials_dir)
        return env


def find_mappings(given: Path | None) -> Path:
    """The mappings directory: ``given``, else the shipped ones (the installed package's copy, or the
    checkout's ``mappings/``), so the demo runs from any directory. :class:`ConfigError` (exit 2) when it
    is missing or holds no mapping file, saying where the demo looked and how to point it elsewhere."""
    from bridge.resources import example_mappings_dir

    if given is None:
        try:
            given = example_mappings_dir()
        except FileNotFoundError as exc:
            raise ConfigError(
                "the shipped mappings are missing from this installation",
                [f"{exc}; reinstall bridge, or give --mappings DIR"],
            ) from exc
    directory = given.expanduser().absolute()
    if not directory.is_dir():
        raise ConfigError(
            f"mappings directory {directory} not found",
            [f"{directory}: not a directory; give --mappings DIR, or leave it out for the shipped mappings"],
        )
    if not any(directory.glob("*.yaml")) and not any(directory.glob("*.yml")):
        raise ConfigError(
            f"mappings directory {directory} holds no mapping",
            [f"{directory}: no *.yaml file; give --mappings DIR with the shipped mappings"],
        )
    return directory


def write_config(
    workdir: Path, *, jira_url: str, jira_mode: str, snow_url: str, mappings_dir: Path, interval_seconds: int
) -> tuple[Path, Path]:
    """Write ``config.yaml`` and the credential files into ``workdir``; returns both paths."""
    credentials = workdir / "credentials"
    credentials.mkdir(mode=0o700, exist_ok=True)
    for name, value in (
        ("jira_token", BRIDGE_TOKEN if jira_mode == "cloud" else BRIDGE_PAT),
        ("itsm_password", API_PASSWORD),
    ):
        path = credentials / name
        path.write_text(value)
        path.chmod(0o600)
    jira: dict[str, object] = {
        "url": jira_url,
        "deployment": jira_mode,
        "requests_per_second": DEMO_REQUESTS_PER_SECOND,
    }
    if jira_mode == "cloud":
        jira["email"] = BRIDGE_EMAIL
    config = {
        "jira": jira,
        "itsm": {
            "kind": "servicenow",
            "url": snow_url,
            "username": API_USER,
            "requests_per_second": DEMO_REQUESTS_PER_SECOND,
        },
        "state": {"url": f"sqlite:///{workdir / 'bridge.sqlite3'}"},
        "mappings": {"directory": str(mappings_dir)},
        "schedule": {"interval_seconds": interval_seconds},
    }
    config_file = workdir / "config.yaml"
    header = (
        "# Written by `bridge demo`: the sandboxes on loopback. Secrets are in ./credentials\n"
        "# (run bridge with CREDENTIALS_DIRECTORY pointing there).\n"
    )
    body = StringIO()
    YAML().dump(config, body)  # round-trip dumper: sections stay in the order written here
    config_file.write_text(header + body.getvalue())
    return config_file, credentials


#: what a demo run writes into its work directory (a rerun with the same --workdir starts afresh)
_ARTIFACTS = ("sandbox-jira", "sandbox-servicenow", "credentials", "bridge.sqlite3", "config.yaml")


def _clear_previous_run(root: Path) -> None:
    config = root / "config.yaml"
    if config.exists() and not config.read_text().startswith("# Written by `bridge demo`"):
        raise ConfigError(
            f"{root} holds a config.yaml the demo did not write",
            [f"{config}: refusing to overwrite it; give --workdir an empty or demo directory"],
        )
    for name in _ARTIFACTS:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


@contextmanager
def demo_environment(
    mappings_dir: Path,
    *,
    jira_mode: str = "cloud",
    workdir: Path | None = None,
    keep: bool = False,
    interval_seconds: int = 5,
) -> Iterator[DemoEnvironment]:
    """Start both sandboxes (state under the work directory) and write the config; stop and clean up
    on exit. A temporary work directory is removed unless ``keep``; a given one is always kept."""
    temporary = workdir is None
    root = Path(tempfile.mkdtemp(prefix="bridge-demo-")) if workdir is None else workdir.expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    if not temporary:
        _clear_previous_run(root)
    started: list[SandboxServer] = []
    try:
        jira = JiraSandbox(mode=jira_mode, state_dir=root / "sandbox-jira")
        snow = ServiceNowSandbox(state_dir=root / "sandbox-servicenow")
        jira_server = SandboxServer(jira).start()
        started.append(jira_server)
        snow_server = SandboxServer(snow).start()
        started.append(snow_server)
        config_file, credentials = write_config(
            root,
            jira_url=jira_server.url,
            jira_mode=jira_mode,
            snow_url=snow_server.url,
            mappings_dir=mappings_dir,
            interval_seconds=interval_seconds,
        )
        yield DemoEnvironment(
            workdir=root,
            temporary=temporary,
            jira_mode=jira_mode,
            mappings_dir=mappings_dir,
            jira=jira,
            snow=snow,
            jira_server=jira_server,
            snow_server=snow_server,
            config_file=config_file,
            credentials_dir=credentials,
        )
    finally:
        for server in reversed(started):
            server.stop()
        if temporary and not keep:
            shutil.rmtree(root, ignore_errors=True)
