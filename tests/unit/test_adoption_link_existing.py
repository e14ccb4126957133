"""After the state database is lost, records linked by ``links.link_existing`` are linked again without
mirroring any comment twice: the markers in the named issue's comments prove what is mirrored already."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.engine import MAPPING, World, mapping_spec

M = "incidents"


def census(world: World) -> tuple[int, int, int]:
    issues = world.jira.issues()
    jira = sum(len(world.jira.comments(i.ref)) for i in issues)
    itsm = sum(len(world.itsm.comments(r.ref)) for r in world.itsm.records())
    return len(issues), jira, itsm


def test_link_existing_records_adopt_their_comments_after_the_database_is_lost(tmp_path: Path) -> None:
    world = World(tmp_path, mapping_spec(links={**MAPPING.get("links", {}), "link_existing": "u_jira_key"}))
    try:
        first = world.incident("VPN down", state="2")
        world.settle()
        issue = world.issue_of(first)
        second = world.incident("VPN down here too", state="2", u_jira_key=issue)
        world.clock.advance(seconds=10)
        world.itsm.comment(second, "Users in Berlin too", channel="work_notes")
        world.jira.comment(world.jira.issue(issue).ref, "Looking at the concentrator")
        world.settle()
        before = census(world)

        world.store.close()
        (tmp_path / "bridge.sqlite3").unlink()
        world._open()
        for _ in range(3):
            world.clock.advance(seconds=10)
            world.cycle()
        assert census(world) == before  # no issue, no comment twice
        link = world.store.link_for_record(M, second.id)
        assert link is not None
        assert link.issue.key == issue

        world.clock.advance(seconds=10)
        world.itsm.comment(second, "Fixed after the reboot", channel="work_notes")
        world.settle()
        assert census(world) == (before[0], before[1] + 1, before[2] + 1)
    finally:
        world.close()
