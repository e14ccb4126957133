"""The shipped systemd units pass ``systemd-analyze verify`` and keep their security score.

``verify`` checks that ExecStart= points at an executable, and /opt/bridge/venv/bin/bridge does not
exist on a build machine. Rather than ship a different path or rewrite the units, each test builds
a throw-away root (``--root``) holding the units byte for byte, the host's target and slice units
they depend on, and a stub executable at the documented path. That also keeps the check hermetic:
whatever broken units the host has installed cannot fail or pass it.

``verify`` exits 0 even for unknown keys and unparsable values (it warns and ignores them, as
systemd itself does), so the tests demand that it prints nothing at all, and prove with broken
copies that the harness does notice mistakes.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bridge.exitcodes import ExitCode
from bridge.settings import CREDENTIAL_FILES
from tests.conftest import integration_unavailable

ROOT = Path(__file__).resolve().parents[2]
UNITS_DIR = ROOT / "systemd"
UNITS = ("bridge.service", "bridge-sync.service", "bridge-sync.timer")
SERVICES = ("bridge.service", "bridge-sync.service")
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
#: systemd-analyze rates 0 (locked down) to 10 (exposed); below 2.5 it says "OK".
MAX_EXPOSURE = 2.5
HOST_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        integration_unavailable("systemd-analyze not installed (Debian package: systemd)")
        raise AssertionError("unreachable")
    return path


def unit_text(name: str) -> str:
    return (UNITS_DIR / name).read_text()


def exec_start_binary(text: str) -> str:
    match = re.search(r"^ExecStart=(\S+)", text, re.MULTILINE)
    assert match, "unit has no ExecStart="
    return match.group(1)


def make_root(tmp_path: Path, units: dict[str, str]) -> Path:
    """A filesystem root with ``units`` (name -> text), host targets/slices and stub ExecStart binaries."""
    root = tmp_path / "root"
    etc = root / "etc/systemd/system"
    lib = root / "usr/lib/systemd/system"
    etc.mkdir(parents=True)
    lib.mkdir(parents=True)
    host_dir = next((d for d in HOST_UNIT_DIRS if (d / "multi-user.target").exists()), None)
    if host_dir is None:
        integration_unavailable("no systemd target units on this host to verify against")
    assert host_dir is not None
    for pattern in ("*.target", "*.slice"):
        for unit in host_dir.glob(pattern):
            if unit.is_file():
                shutil.copy(unit, lib / unit.name)
    for name, text in units.items():
        (etc / name).write_text(text)
        if name.endswith(".service"):
            # verify checks every Exec*= command inside --root: stub ExecStart's binary and the others
            # (ExecReload's /bin/kill), as the host's packages would provide them
            for command in {exec_start_binary(text), *exec_binaries(text)}:
                binary = root / command.lstrip("/")
                binary.parent.mkdir(parents=True, exist_ok=True)
                binary.write_text("#!/bin/sh\nexit 0\n")
                binary.chmod(0o755)
    return root


def exec_binaries(text: str) -> list[str]:
    """The absolute binaries of every active ``Exec…=`` line (prefixes such as ``-``/``+`` dropped)."""
    return [m.group(1) for m in re.finditer(r"^Exec\w+=[-+!@:]*(/\S+)", text, re.MULTILINE)]


def verify(root: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), "verify", f"--root={root}", *names],
        capture_output=True, text=True, timeout=60, check=False,
    )


def shipped() -> dict[str, str]:
    return {name: unit_text(name) for name in UNITS}


def test_shipped_units_verify_without_a_single_warning(tmp_path: Path) -> None:
    result = verify(make_root(tmp_path, shipped()), list(UNITS))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_textfile_variant_of_the_oneshot_unit_verifies(tmp_path: Path) -> None:
    """The commented alternative in bridge-sync.service must stay valid when an operator enables it."""
    text = unit_text("bridge-sync.service")
    enabled = re.sub(r"^#(ExecStart=.*|ReadWritePaths=.*)$", r"\1", text, flags=re.MULTILINE)
    assert enabled.count("\nExecStart=") == 3  # original, reset, textfile variant
    units = {**shipped(), "bridge-sync.service": enabled}
    result = verify(make_root(tmp_path, units), ["bridge-sync.service"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("ProtectSystem=strict", "ProtectSystem=strictly", "protect system value, ignoring: strictly"),
        ("UMask=0077", "UMusk=0077", "Unknown key 'UMusk'"),
        ("Type=notify", "Type=notifying", "service type, ignoring: notifying"),
    ],
)
def test_the_harness_notices_a_broken_unit(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    text = unit_text("bridge.service")
    assert old in text
    units = {**shipped(), "bridge.service": text.replace(old, new)}
    result = verify(make_root(tmp_path, units), ["bridge.service"])
    assert "bridge.service:" in result.stderr
    assert complaint in result.stderr


def test_the_harness_notices_a_missing_executable(tmp_path: Path) -> None:
    root = make_root(tmp_path, shipped())
    (root / exec_start_binary(unit_text("bridge.service")).lstrip("/")).unlink()
    result = verify(root, ["bridge.service"])
    assert result.returncode != 0
    assert "is not executable" in result.stderr


def exposure(service: str) -> float:
    analyze = systemd_analyze()
    help_text = subprocess.run([analyze, "security", "--help"], capture_output=True, text=True, check=False).stdout
    if "--offline" not in help_text:
        integration_unavailable("this systemd-analyze cannot rate unit files offline (needs systemd >= 250)")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(UNITS_DIR / service)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    match = re.search(rf"Overall exposure level for {re.escape(service)}: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


@pytest.mark.parametrize("service", SERVICES)
def test_security_exposure_stays_ok_and_matches_the_docs(service: str) -> None:
    score = exposure(service)
    assert score <= MAX_EXPOSURE
    documented = re.search(rf"`{re.escape(service)}`\s*\|\s*(\d+\.\d)", OPERATIONS_DOC.read_text())
    assert documented, f"docs/operations.md has no score row for {service}"
    assert float(documented.group(1)) == score, "update the score in docs/operations.md"


# ---------------------------------------------------- no systemd needed: facts the units must keep
def parse(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit_text(name))
    return parser


@pytest.mark.parametrize("service", SERVICES)
def test_credential_names_are_the_ones_settings_reads(service: str) -> None:
    ids = re.findall(r"^#?LoadCredential=([^:\s]+):/etc/bridge/credentials/(\S+)$", unit_text(service), re.MULTILINE)
    assert ids, "no LoadCredential= lines"
    for credential, filename in ids:
        assert credential in CREDENTIAL_FILES, f"{credential}: bridge.settings does not read this credential"
        assert credential == filename
    for secret in ("jira_token", "itsm_password", "itsm_token", "state_password"):
        assert secret in {c for c, _ in ids}


@pytest.mark.parametrize("service", SERVICES)
def test_both_services_share_identity_and_hardening(service: str) -> None:
    """The one-shot unit must not drift to weaker settings than the daemon."""
    daemon = dict(parse("bridge.service").items("Service"))
    unit = dict(parse(service).items("Service"))
    for key in ("DynamicUser", "StateDirectory", "ConfigurationDirectory", "ProtectSystem", "ProtectHome",
                "NoNewPrivileges", "CapabilityBoundingSet", "RestrictAddressFamilies", "SystemCallArchitectures",
                "MemoryDenyWriteExecute", "UMask", "PrivateTmp", "PrivateDevices", "RestrictNamespaces"):
        assert unit.get(key) == daemon.get(key), key
    assert unit["UMask"] == "0077"
    assert unit["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize("service", SERVICES)
def test_memory_is_capped_and_the_cap_is_documented(service: str) -> None:
    """A runaway render or parse must end in a restart, not in the host swapping (docs: "Limits")."""
    unit = dict(parse(service).items("Service"))
    assert unit["MemoryMax"] == "512M"
    assert unit["MemorySwapMax"] == "0"
    doc = OPERATIONS_DOC.read_text(encoding="utf-8")
    assert "## 15. Limits" in doc
    assert "MemoryMax=512M" in doc


def test_daemon_is_notify_and_restarts_on_failure() -> None:
    service = dict(parse("bridge.service").items("Service"))
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == str(int(ExitCode.CONFIG))  # restarting cannot fix it
    assert service["ExecStart"].endswith(" run")


def test_oneshot_treats_lock_held_as_success_and_timer_is_persistent() -> None:
    service = dict(parse("bridge-sync.service").items("Service"))
    assert service["Type"] == "oneshot"
    assert str(int(ExitCode.LOCKED)) in service["SuccessExitStatus"].split()
    assert service["ExecStart"].endswith(" sync --once")
    timer = dict(parse("bridge-sync.timer").items("Timer"))
    assert timer["Persistent"] == "yes"
    assert timer["OnCalendar"] == "minutely"


def test_cron_example_never_overlaps_runs() -> None:
    lines = [line for line in (UNITS_DIR / "bridge.crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert lines, "no active crontab line"
    for line in lines:
        fields = line.split()
        assert fields[:5] == ["*"] * 5
        assert fields[6:8] == ["flock", "-n"]
        assert "sync --once" in line
