"""Whole cycles, Jira Service Management ↔ Jira, with files (issue 16): a customer's reply with a log
reaches the Bug as a comment naming the file plus the file itself; the developer's file reaches the
request with an internal note; nothing comes back. Cloud and Data Center, one sandbox site, real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.mapping.schema import Mapping as MappingSpec
from tests.fixtures.jira_sandbox import stop_jira
from tests.fixtures.jsm_sandbox import start_jsm
from tests.unit.test_jsm_engine import MAPPING, Site

pytestmark = pytest.mark.slow


@pytest.fixture(params=("cloud", "datacenter"))
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    env = start_jsm(request.param)
    built = Site(env, tmp_path)
    built.spec = MappingSpec.model_validate({**MAPPING, "attachments": {"direction": "both"}})
    built.engine.replace_mappings([built.spec])
    try:
        yield built
    finally:
        built.store.close()
        stop_jira(env)


def test_files_keep_their_comment_both_ways_and_never_echo(site: Site) -> None:
    sandbox = site.env.sandbox
    request = sandbox.create_request("Login fails with SSO", request_type="Report a bug", priority="High")
    assert site.cycle().errors == 0
    [bug] = [i for i in sandbox.snapshot() if i["project"] == "OPS"]

    sandbox.reply(request, "Here is the log", public=True, files=[("sso.log", b"SAML: expired\n" * 20, "text/plain")])
    assert site.cycle().errors == 0
    site.cycle()
    comments = [c["body"] for c in site.issue(bug["key"])["comments"]]
    mirrored = [body for body in comments if "Here is the log" in body]
    assert len(mirrored) == 1, comments
    assert mirrored[0].rstrip().endswith("(attached: sso.log)")
    copied = [(meta["filename"], data) for meta, data in sandbox.files(bug["key"])]
    assert copied == [("sso.log", b"SAML: expired\n" * 20)]

    sandbox.attach(bug["key"], "fix.patch", b"--- a\n+++ b\n", mime_type="text/x-patch")
    assert site.cycle().errors == 0
    site.cycle()
    names = sorted(meta["filename"] for meta, _ in sandbox.files(request))
    assert names == ["fix.patch", "sso.log"]
    notes = [c for c in site.issue(request)["comments"] if "fix.patch copied by bridge" in c["body"]]
    assert len(notes) == 1

    counts = (len(site.issue(request)["comments"]), len(site.issue(bug["key"])["comments"]),
              len(sandbox.files(request)), len(sandbox.files(bug["key"])))
    for _ in range(2):
        assert site.cycle().actions == []
    assert (len(site.issue(request)["comments"]), len(site.issue(bug["key"])["comments"]),
            len(sandbox.files(request)), len(sandbox.files(bug["key"]))) == counts
