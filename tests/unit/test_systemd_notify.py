"""sd_notify against a real AF_UNIX datagram socket, as systemd listens for it."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.systemd import notify, notify_ready, notify_status, notify_stopping, notify_watchdog, watchdog_interval


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    name = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(name)
        sock.settimeout(5)
        yield sock, name


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"bridge-test-{secrets.token_hex(8)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        yield sock, "@" + name


def test_ready_reaches_a_path_socket(path_socket: tuple[socket.socket, str]) -> None:
    sock, name = path_socket
    assert notify_ready(environ={"NOTIFY_SOCKET": name}) is True
    assert sock.recv(4096) == b"READY=1"


def test_abstract_socket_names_start_with_at(abstract_socket: tuple[socket.socket, str]) -> None:
    sock, name = abstract_socket
    assert notify_stopping("finishing the current action", environ={"NOTIFY_SOCKET": name})
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=finishing the current action"


def test_watchdog_and_status(path_socket: tuple[socket.socket, str]) -> None:
    sock, name = path_socket
    env = {"NOTIFY_SOCKET": name}
    assert notify_watchdog(env)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notify_status("last cycle ok\n3 actions", env)
    assert sock.recv(4096) == b"STATUS=last cycle ok 3 actions"  # one line: newlines would start new keys


def test_ready_with_status(path_socket: tuple[socket.socket, str]) -> None:
    sock, name = path_socket
    assert notify_ready("2 mappings", environ={"NOTIFY_SOCKET": name})
    assert sock.recv(4096) == b"READY=1\nSTATUS=2 mappings"


def test_reads_the_process_environment(path_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch) -> None:
    sock, name = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    assert notify_ready()
    assert sock.recv(4096) == b"READY=1"


def test_no_op_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify_ready() is False
    assert notify("READY=1", environ={"NOTIFY_SOCKET": ""}) is False


def test_a_missing_socket_is_reported_not_raised(tmp_path: Path) -> None:
    assert notify_ready(environ={"NOTIFY_SOCKET": str(tmp_path / "gone")}) is False


def test_a_relative_socket_name_is_ignored(tmp_path: Path) -> None:
    assert notify_ready(environ={"NOTIFY_SOCKET": "relative/notify"}) is False


def test_watchdog_interval_is_half_of_watchdogsec() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "300000000"}) == 150.0
    assert watchdog_interval({"WATCHDOG_USEC": "300000000", "WATCHDOG_PID": str(os.getpid())}) == 150.0


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "soon"},
        {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)},  # watching another process
    ],
)
def test_watchdog_interval_none_when_not_watched(env: dict[str, str]) -> None:
    assert watchdog_interval(env) is None
