"""Fixtures shared by the whole suite: hypothesis profiles, the test tiers and a real PostgreSQL server.

Tiers (README "Development"): ``pytest -m "not slow"`` is the fast tier (unit, contract and property
tests on the memory connectors and sandboxes, well under a minute); ``make test`` runs everything.
:func:`pytest_collection_modifyitems` marks ``slow`` what needs a real server or a subprocess, so no
one has to remember the marker there.

Integration fixtures start real servers from installed binaries. When the binaries are missing the
tests skip with the reason, unless ``BRIDGE_REQUIRE_INTEGRATION=1`` (CI sets it), which turns the
skip into a failure: a CI run that silently skipped PostgreSQL would prove nothing about it.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# --- hypothesis -------------------------------------------------------------------------------
# "ci": many examples, no deadline (shared runners are slow and noisy), and print the blob that
# reproduces a failure. "dev": quick feedback. HYPOTHESIS_PROFILE picks; CI=true defaults to "ci".
settings.register_profile("ci", max_examples=200, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


# --- tiers ----------------------------------------------------------------------------------
TESTS = Path(__file__).resolve().parent
#: Whole directories of the slow tier: real servers (integration) and the CLI as a subprocess (e2e).
SLOW_DIRECTORIES = (TESTS / "integration", TESTS / "e2e")
#: Markers that imply ``slow``.
SLOW_MARKERS = ("integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: Sequence[pytest.Item]) -> None:
    """Add ``slow`` to integration and e2e tests and to contract tests over HTTP (every harness but the
    in-memory one), and ``integration`` to contract tests against a real server (``needs_real_server``
    on the harness class, e.g. RT)."""
    for item in items:
        path = Path(str(item.path))
        harness = _harness_of(item)
        if harness is not None and getattr(harness, "needs_real_server", False):
            item.add_marker(pytest.mark.integration)
        if (
            (harness is not None and not getattr(harness, "in_memory", False))
            or any(path.is_relative_to(d) for d in SLOW_DIRECTORIES)
            or any(item.get_closest_marker(name) for name in SLOW_MARKERS)
        ):
            item.add_marker(pytest.mark.slow)


def _harness_of(item: pytest.Item) -> object | None:
    """The contract harness factory a contract test is parametrised with, ``None`` for other tests."""
    import sys

    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("harness") if callspec is not None else None
    registry = sys.modules.get("tests.contract.harness")
    if name is None or registry is None:
        return None
    return registry.HARNESSES.get(name)


def integration_unavailable(reason: str) -> None:
    """Skip (developer machine) or fail (``BRIDGE_REQUIRE_INTEGRATION=1``, i.e. CI)."""
    if os.environ.get("BRIDGE_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"{reason} (BRIDGE_REQUIRE_INTEGRATION=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


# --- PostgreSQL ------------------------------------------------------------------------------
PG_USER = "bridge"
PG_DATABASE = "bridge_test"
PG_SYSTEM_USER = "nobody"  # initdb/postgres refuse to run as root


def find_postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's versioned directories."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
        reverse=True,
    )
    for initdb_path in candidates:
        directory = Path(initdb_path).parent
        if (directory / "pg_ctl").exists():
            return directory
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root; ``None`` when not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "bridge-pg"], check=True)
        return pwd.getpwnam("bridge-pg")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL cluster for the session: ``postgresql+psycopg://`` URL to a fresh DB.

    Listens only on 127.0.0.1 (free port), unix sockets in its own temp dir, password auth over TCP.
    """
    bindir = find_postgres_bin()
    if bindir is None:
        integration_unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; apt install postgresql"
        )
    assert bindir is not None
    user = _server_user()
    # Not under pytest's tmp_path: its parent is 0700 root, which the server user cannot traverse.
    root = Path(tempfile.mkdtemp(prefix="bridge-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    password = secrets.token_urlsafe(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    run_as: dict[str, object] = {}
    if user is not None:
        for path in (root, sockets, pwfile):
            os.chown(path, user.pw_uid, user.pw_gid)
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(root)}
    port = _free_port()

    def run(*args: str) -> None:
        result = subprocess.run(
            [str(bindir / args[0]), *args[1:]],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **run_as,  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            pytest.fail(
                f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{server_log}"
            )

    started = False
    try:
        run(
            "initdb",
            "-D",
            str(data),
            "-U",
            PG_USER,
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        run("pg_ctl", "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start")
        started = True
        admin = f"postgresql+psycopg://{PG_USER}:{password}@127.0.0.1:{port}/postgres"
        _wait_and_create_database(admin, PG_DATABASE)
        yield f"postgresql+psycopg://{PG_USER}:{password}@127.0.0.1:{port}/{PG_DATABASE}"
    finally:
        if started:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _wait_and_create_database(admin_url: str, name: str) -> None:
    import psycopg  # the [postgres] extra; imported here so the suite loads without it

    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(autouse=True)
def _http_layer_not_stopping() -> Iterator[None]:
    """Each test starts in a process that is not stopping. A test that asks a daemon to stop without
    running it (``Daemon.request_stop``) raises the HTTP layer's process-wide stop flag, which would make
    every later retry in that worker give up at once."""
    from bridge.connectors.http import reset_stop

    reset_stop()
    yield
    reset_stop()
