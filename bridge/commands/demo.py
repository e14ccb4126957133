"""``bridge demo``: ServiceNow and Jira sandboxes on loopback, a support story, bridge syncing it.

The command only parses, starts the environment, runs :class:`bridge.demo.scenario.Scenario` and
prints; the demo's logic lives in :mod:`bridge.demo`. The engine is built the normal way (a config
file through :func:`bridge.settings.load_settings`, then :func:`bridge.bootstrap.build_engine`), so
what the newcomer sees is the code that would run against their own instances.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bridge.commands._common import GlobalOptions, bridge_command, table
from bridge.exitcodes import ExitCode

if TYPE_CHECKING:
    from bridge.demo.environment import DemoEnvironment
    from bridge.demo.scenario import Scenario
    from bridge.sync.cycle import CycleReport
    from bridge.sync.engine import Engine

DAEMON_INTERVAL_SECONDS = 5


@click.command()
@click.option(
    "--jira-mode",
    type=click.Choice(("cloud", "datacenter")),
    default="cloud",
    show_default=True,
    help="Which Jira the sandbox plays: Cloud (REST v3, ADF) or Data Center (REST v2).",
)
@click.option(
    "--mappings",
    "mappings_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The mappings to run (default: the shipped ones, installed with bridge).",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Keep the config, state database and sandbox state here (default: a temporary directory, removed).",
)
@click.option(
    "--keep-running",
    is_flag=True,
    help=f"After the story, keep the sandboxes up and run the daemon every {DAEMON_INTERVAL_SECONDS} s until Ctrl-C.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log bridge's INFO lines to stderr (default: warnings only).")
@click.pass_obj
@bridge_command
def demo(
    opts: GlobalOptions,
    jira_mode: str,
    mappings_dir: Path | None,
    workdir: Path | None,
    keep_running: bool,
    verbose: bool,
) -> int:
    """Show bridge at work on sandboxes: no vendor account needed."""
    from bridge.bootstrap import build_engine
    from bridge.demo.environment import demo_environment, find_mappings
    from bridge.demo.scenario import Scenario
    from bridge.demo.story import Style
    from bridge.logging import configure_logging
    from bridge.mapping.loader import load_or_raise
    from bridge.settings import load_settings

    directory = find_mappings(mappings_dir)
    level = opts.log_level or ("INFO" if verbose else "WARNING")
    configure_logging(level, opts.log_format or "auto")
    style = Style(color=sys.stdout.isatty())
    with demo_environment(
        directory, jira_mode=jira_mode, workdir=workdir, keep=keep_running, interval_seconds=DAEMON_INTERVAL_SECONDS
    ) as env:
        settings = load_settings(env.config_file, env=env.settings_env())
        configure_logging(level, opts.log_format or "auto", secrets=[*settings.secret_values(), *env.secrets()])
        engine = build_engine(settings, load_or_raise(settings.mappings.directory))
        try:
            scenario = Scenario(env, engine, click.echo, style)
            _introduce(scenario)
            scenario.run()
            _summarise(scenario)
            if keep_running:
                _keep_running(scenario, engine, env)
        finally:
            engine.close()
        if not env.temporary or keep_running:
            click.echo(f"\nConfig, state database and sandbox state kept in {env.workdir}")
    return ExitCode.RECORD_ERRORS if scenario.failures else ExitCode.OK


def _introduce(scenario: Scenario) -> None:
    env = scenario.env
    names = ", ".join(m.name for m in scenario.mappings())
    scenario.say("bridge demo: a ServiceNow and a Jira sandbox on this machine, bridge syncing them", "heading")
    scenario.say(f"  ServiceNow sandbox  {env.snow_url}")
    flavour = "Cloud" if env.jira_mode == "cloud" else "Data Center"
    scenario.say(f"  Jira sandbox        {env.jira_url} (Jira {flavour})")
    scenario.say(f"  mappings            {env.mappings_dir} ({names})")
    scenario.say(f"  config              {env.config_file} (credentials in {env.credentials_dir.name}/)")


def _summarise(scenario: Scenario) -> None:
    scenario.heading("Links")
    rows = scenario.links_table()
    headers = ("RECORD", "ISSUE", "TYPE", "SERVICENOW", "JIRA", "NOTES (SN)", "COMMENTS (JIRA)")
    scenario.write(table(headers, rows) if rows else "no links")
    calls = scenario.calls()
    cycles = len(scenario.reports)
    changes = scenario.mirrored_changes()
    scenario.heading("Vendor calls")
    for side, name in (("itsm", "ServiceNow"), ("jira", "Jira")):
        total = next(v for k, v in calls.items() if k.value == side)
        per_cycle = total / cycles if cycles else 0.0
        per_change = f"{total / changes:.1f}" if changes else "n/a"
        scenario.say(
            f"  {name:<11} {total:4} in total, {per_cycle:.1f} per cycle ({scenario.rounds} rounds × "
            f"{len(scenario.mappings())} mappings = {cycles} cycles), {per_change} per mirrored change "
            f"({changes} changes)"
        )
    scenario.write("")
    if scenario.failures:
        scenario.say(f"✖ {len(scenario.failures)} step(s) did not happen:", "fail")
        for failure in scenario.failures:
            scenario.say(f"  - {failure}", "fail")
    else:
        scenario.say("✔ every step happened as told; nothing was echoed back", "sync")


def _keep_running(scenario: Scenario, engine: Engine, env: DemoEnvironment) -> None:
    from bridge.daemon import Daemon
    from bridge.demo.story import indent, story

    hero = next((s for s in scenario.seeded if s.table == "incident"), None)
    number = hero.number if hero else "INC0010001"
    issue = scenario.names.issue_for_record.get(hero.sys_id, "DEMO-1") if hero else "DEMO-1"
    scenario.heading(f"The sandboxes stay up; bridge syncs every {DAEMON_INTERVAL_SECONDS} s. Ctrl-C stops.")
    scenario.say(f"  ServiceNow  {env.snow_url}   (the Table API: /api/now/table/incident)")
    scenario.say(f"  Jira        {env.jira_url}   (REST: {env.jira.api})")
    scenario.say("  Act as a person through the sandboxes' admin endpoints (no credentials needed), e.g.:")
    scenario.say(
        f"    curl -X POST {env.snow_url}/_sandbox/servicenow/incident/{number}/journal "
        "-H 'Content-Type: application/json' -d '{\"text\": \"Any news?\", \"element\": \"work_notes\"}'"
    )
    scenario.say(
        f"    curl -X POST {env.jira_url}/_sandbox/jira/issues/{issue}/comments "
        "-H 'Content-Type: application/json' -d '{\"body\": \"Fix deployed to staging\", \"as\": \"dana\"}'"
    )
    scenario.say(
        f"    curl -X POST {env.jira_url}/_sandbox/jira/issues/{issue}/transition "
        "-H 'Content-Type: application/json' -d '{\"status\": \"Done\", \"resolution\": \"Done\"}'"
    )
    scenario.say(f"    curl {env.jira_url}/_sandbox/jira/issues    # everything in Jira, readable")

    def on_cycle(name: str, result: CycleReport | BaseException) -> None:
        if isinstance(result, BaseException):
            scenario.say(f"  {name}: cycle failed: {result}", "fail")
            return
        scenario.refresh()
        for line in story([*result.reconciled, *result.outcomes], scenario.names):
            scenario.write(scenario.style.paint(indent(line)))

    Daemon(engine, interval_seconds=DAEMON_INTERVAL_SECONDS, on_cycle=on_cycle).run_forever()
