"""The façade: :class:`JiraSandbox` composed from the responsibility mixins, and the process entry point."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from bridge.sandbox.jira.attachments import AttachmentsMixin
from bridge.sandbox.jira.issuelinks import IssueLinksMixin
from bridge.sandbox.jira.metadata import MetadataMixin
from bridge.sandbox.jira.remotelinks import RemoteLinksMixin
from bridge.sandbox.jira.scripting import ScriptingMixin
from bridge.sandbox.jira.search import SearchMixin
from bridge.sandbox.server import SandboxServer


class JiraSandbox(AttachmentsMixin, ScriptingMixin, SearchMixin, RemoteLinksMixin, IssueLinksMixin, MetadataMixin):
    """A Jira Cloud (``mode="cloud"``, REST v3) or Data Center (``mode="datacenter"``, REST v2) sandbox.

    ``JiraSandbox(mode, state_dir=None, clock=None)``: ``clock`` returns the current instant (aware); tests
    pass a settable one so minute boundaries and Retry-After waits are exact without sleeping. The
    rate-limit window runs on the same clock. What each base contributes: see :mod:`bridge.sandbox.jira`.
    """


def main(argv: list[str] | None = None) -> int:
    """``python -m bridge.sandbox.jira``: serve until SIGTERM/SIGINT; print the URL once ready."""
    parser = argparse.ArgumentParser(
        prog="python -m bridge.sandbox.jira",
        description="A vendor-faithful Jira on loopback: Cloud REST v3 or Data Center REST v2.",
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=("cloud", "datacenter"), default="cloud")
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    server = SandboxServer(JiraSandbox(mode=args.mode, state_dir=args.state_dir), port=args.port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(server.url, flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0
