"""The package as an administrator installs it: build the sdist and the wheel from it, install the wheel
into a fresh virtualenv outside the checkout, then ``bridge --version``, ``bridge init``, ``bridge check``
and ``bridge demo`` from a directory that is not the checkout. Proves the wheel carries the examples
(``bridge/_data``) and needs no checkout. Needs the package index for the build backend and the
dependencies (pip's cache makes a re-run quick)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

from bridge import __version__
from bridge.resources import git_revision

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def run(args: list[str | Path], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BRIDGE_") and k not in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY", "PYTHONPATH")
    }
    env["NO_COLOR"] = "1"
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return result


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = run([sys.executable, "-m", "build", "--outdir", dist, REPO], cwd=tmp_path)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels = list(dist.glob("bridge_sync-*.whl"))
    assert len(wheels) == 1, wheels

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)  # a clean venv; this process's pip installs into it (faster)
    bin_dir = env_dir / "bin"
    installed = run(
        [sys.executable, "-m", "pip", "--python", bin_dir / "python", "install", "--quiet", wheels[0]], cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run([bin_dir / "python", "-c", "import bridge; print(bridge.__file__)"], cwd=elsewhere)
    assert Path(where.stdout.strip()).is_relative_to(env_dir), where.stdout  # not the checkout's copy

    version = run([bin_dir / "bridge", "--version"], cwd=elsewhere)
    assert version.returncode == 0, version.stderr
    # Built from a git checkout: the revision the sdist recorded reaches the wheel (without git: none).
    sdists = list(dist.glob("bridge_sync-*.tar.gz"))
    with tarfile.open(sdists[0]) as sdist:
        member = next(m for m in sdist.getmembers() if m.name.endswith("/REVISION"))
        recorded = sdist.extractfile(member).read().decode().strip()  # type: ignore[union-attr]
    expected = f"bridge {__version__} (git {recorded})" if recorded else f"bridge {__version__}"
    assert version.stdout.strip() == expected
    if git_revision():
        assert re.fullmatch(r"[0-9a-f]{4,}", recorded)

    setup = elsewhere / "etc-bridge"
    init = run([bin_dir / "bridge", "init", setup, "--itsm", "rt", "--jira", "datacenter"], cwd=elsewhere)
    assert init.returncode == 0, init.stdout + init.stderr
    assert sorted(p.name for p in (setup / "mappings").iterdir()) == ["rt-incident-to-bug.yaml"]
    check = run([bin_dir / "bridge", "--config", setup / "config.yaml", "check"], cwd=elsewhere)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "configuration OK" in check.stdout

    demo = run([bin_dir / "bridge", "demo"], cwd=elsewhere, timeout=180)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "every step happened as told" in demo.stdout
    assert str(env_dir) in demo.stdout  # the mappings the demo ran are the installed package's
