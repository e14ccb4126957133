"""``bridge init DIR``: a commented ``config.yaml`` and the example mappings for the chosen systems.

An administrator installs bridge from a wheel, not a checkout: the shipped ``config.example.yaml`` and
example mappings come from the package (:mod:`bridge.resources`). Only the mappings written for the
chosen ITSM are copied, so a ServiceNow install does not carry RT or JSM examples that ``bridge check
--online`` would report. Existing files are never overwritten without ``--force``, and a directory set
up for another ITSM or Jira deployment is refused: mixing two setups is what the operator must decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bridge.commands._common import bridge_command
from bridge.exitcodes import ExitCode
from bridge.resources import example_config, example_mappings_dir
from bridge.vendors import system_of

ITSM_KINDS = ("servicenow", "rt", "jsm")
JIRA_DEPLOYMENTS = ("cloud", "datacenter")

ITSM_URLS = {
    "servicenow": "https://your-instance.service-now.com",
    "rt": "https://rt.example.org",
    "jsm": "https://your-site.atlassian.net",
}
JIRA_URLS = {"cloud": "https://your-site.atlassian.net", "datacenter": "https://jira.example.org"}
ITSM_NAMES = {"servicenow": "ServiceNow", "rt": "Request Tracker", "jsm": "Jira Service Management"}

_HEADER = """\
# bridge configuration, written by `bridge init --itsm {itsm} --jira {jira}`: every option, with its default.
# Edit jira.url, itsm.url and the users; the mappings are in mappings/ next to this file.
# Check it with:   bridge --config {config} check      (then: check --online)
"""


class InitError(click.ClickException):
    """A refusal: exit code 2 (configuration), the message on stderr."""

    exit_code = int(ExitCode.CONFIG)


@dataclass
class Plan:
    """What init will write: target path → content, and the mappings of another system it removes."""

    files: dict[Path, str] = field(default_factory=dict)
    remove: list[Path] = field(default_factory=list)


def _load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def mapping_system(path: Path) -> str | None:
    """The ITSM a mapping file is written for, or ``None`` when it is not a readable mapping."""
    try:
        data = _load_yaml(path)
    except (OSError, YAMLError, UnicodeDecodeError):
        return None
    route = data.get("route") if isinstance(data, dict) else None
    if not isinstance(route, dict) or not isinstance(route.get("record_type"), str):
        return None
    declared = route.get("system")
    return system_of(route["record_type"], declared if declared in ITSM_KINDS else None)


def example_mappings(itsm: str) -> dict[str, Path]:
    """The shipped example mappings written for ``itsm``, by file name."""
    return {
        path.name: path for path in sorted(example_mappings_dir().glob("*.yaml")) if mapping_system(path) == itsm
    }


def _replace_in_section(text: str, section: str, key: str, value: str) -> str:
    """Set ``section.key`` in the example's text, keeping every comment; fails loudly if the example changed."""
    pattern = re.compile(rf"(^{section}:\n(?:(?:[ #].*)?\n)*?  {key}: ).*$", re.MULTILINE)
    new, count = pattern.subn(lambda m: m.group(1) + value, text, count=1)
    if count != 1:
        raise RuntimeError(f"config.example.yaml has no {section}.{key} line to set")
    return new


def render_config(itsm: str, jira: str, config_path: Path) -> str:
    """``config.example.yaml`` with the chosen systems filled in and a header saying where it came from."""
    text = example_config().read_text(encoding="utf-8")
    body = text[text.index("\n#\n# Precedence") + 3 :] if "\n#\n# Precedence" in text else text
    text = _HEADER.format(itsm=itsm, jira=jira, config=config_path) + "#\n" + body
    text = _replace_in_section(text, "jira", "url", JIRA_URLS[jira])
    text = _replace_in_section(text, "jira", "deployment", jira)
    text = _replace_in_section(text, "itsm", "kind", itsm)
    text = _replace_in_section(text, "itsm", "url", ITSM_URLS[itsm])
    data = YAML(typ="safe").load(text)
    taken = (data["itsm"]["kind"], data["jira"]["deployment"], data["mappings"]["directory"])
    if taken != (itsm, jira, "mappings"):
        raise RuntimeError("config.example.yaml did not take the chosen systems")
    return text


def render_mapping(path: Path, itsm: str) -> str:
    """An example mapping, enabled: the RT and JSM examples ship disabled (the shipped directory also
    drives the ServiceNow demo); in a directory set up for their ITSM they are meant to run."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.rstrip() == "enabled: false":
            start = index
            while start > 0 and lines[start - 1].startswith("#") and not lines[start - 1].startswith("# ---"):
                start -= 1
            comment = f"# Enabled by `bridge init --itsm {itsm}`; set false to stop syncing this mapping.\n"
            lines[start : index + 1] = [comment, "enabled: true\n"]
            break
    return "".join(lines)


def _existing_setup(directory: Path) -> tuple[str, str] | None:
    """(itsm.kind, jira.deployment) of ``DIR/config.yaml``; ``None`` when there is none."""
    config = directory / "config.yaml"
    if not config.exists():
        return None
    try:
        data = _load_yaml(config) or {}
    except (OSError, YAMLError, UnicodeDecodeError) as exc:
        raise InitError(f"{config}: not readable as YAML ({exc}); fix or remove it, or use --force") from exc
    if not isinstance(data, dict):
        raise InitError(f"{config}: not a bridge configuration; remove it, or use --force")
    itsm = data.get("itsm") or {}
    jira = data.get("jira") or {}
    kind = itsm.get("kind", "servicenow") if isinstance(itsm, dict) else "servicenow"
    deployment = jira.get("deployment", "cloud") if isinstance(jira, dict) else "cloud"
    return str(kind), str(deployment)


def plan_init(directory: Path, itsm: str, jira: str, force: bool) -> Plan:
    """What to write into ``directory``; :class:`InitError` when it holds a different setup."""
    if directory.exists() and not directory.is_dir():
        raise InitError(f"{directory}: exists and is not a directory")
    config_path = directory / "config.yaml"
    if not force:
        existing = _existing_setup(directory)
        if existing is not None and existing != (itsm, jira):
            raise InitError(
                f"{directory} already holds a setup for itsm.kind {existing[0]} and jira.deployment "
                f"{existing[1]} ({config_path}); choose another directory, or --force to replace it"
            )
    examples = example_mappings(itsm)
    plan = Plan()
    plan.files[config_path] = render_config(itsm, jira, config_path)
    foreign: list[tuple[Path, str]] = []
    mappings = directory / "mappings"
    if mappings.is_dir():
        for path in sorted([*mappings.glob("*.yaml"), *mappings.glob("*.yml")]):
            system = mapping_system(path)
            if system is not None and system != itsm:
                foreign.append((path, system))
    shipped_names = {path.name for path in example_mappings_dir().glob("*.yaml")}
    for path, system in foreign:
        if force and path.name in shipped_names:
            plan.remove.append(path)  # a shipped example for another ITSM: part of the setup --force replaces
            continue
        hint = "choose another directory, or --force to replace the setup" if not force else "move it away first"
        raise InitError(f"{directory} already holds a mapping for {system}: {path}; {hint}")
    for name, source in examples.items():
        plan.files[mappings / name] = render_mapping(source, itsm)
    return plan


def _next_steps(directory: Path, itsm: str, jira: str) -> list[str]:
    config = directory / "config.yaml"
    credentials = directory / "credentials"
    token = "the-jira-api-token" if jira == "cloud" else "the-jira-personal-access-token"
    password = "the-jsm-api-token" if itsm == "jsm" else "the-itsm-password"
    env = f"CREDENTIALS_DIRECTORY={credentials}"
    return [
        "",
        "Next steps:",
        f"  1. Edit {config} (jira.url, itsm.url, the users), and put each secret in its own credential file:",
        f"       install -d -m 0700 {credentials}",
        f"       printf '%s' '{token}' > {credentials}/jira_token",
        f"       printf '%s' '{password}' > {credentials}/itsm_password",
        f"       chmod 0600 {credentials}/*",
        "  2. Check the configuration and the mappings, offline:",
        f"       {env} bridge --config {config} check",
        f"  3. Check them against the live Jira and {ITSM_NAMES[itsm]}:",
        f"       {env} bridge --config {config} check --online",
    ]


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--itsm", type=click.Choice(ITSM_KINDS), default="servicenow", show_default=True, help="The ITSM tool.")
@click.option(
    "--jira",
    type=click.Choice(JIRA_DEPLOYMENTS),
    default="cloud",
    show_default=True,
    help="Jira Cloud or Jira Data Center.",
)
@click.option("--force", is_flag=True, help="Replace existing files and a setup for other systems.")
@bridge_command
def init(directory: Path, itsm: str, jira: str, force: bool) -> int:
    """Write a commented config.yaml and the example mappings for ITSM and Jira into DIRECTORY.

    Existing files are kept (--force replaces them); a DIRECTORY set up for another ITSM or Jira
    deployment is refused. Exit codes: 0 written; 2 refused.
    """
    directory = directory.expanduser().absolute()
    plan = plan_init(directory, itsm, jira, force)
    for path in plan.remove:
        path.unlink()
        click.echo(f"removed  {path} (an example for another ITSM)")
    for path, content in plan.files.items():
        if path.exists():
            if path.read_text(encoding="utf-8") == content:
                click.echo(f"kept     {path} (unchanged)")
                continue
            if not force:
                click.echo(f"kept     {path} (differs from the example; --force replaces it)")
                continue
            verb = "replaced"
        else:
            verb = "wrote   "
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        click.echo(f"{verb} {path}")
    for line in _next_steps(directory, itsm, jira):
        click.echo(line)
    return ExitCode.OK
