"""The Jira sandbox keeps a search's ordered answer for its next pages (so 100,000 issues page in linear
time); the pages must stay exactly those of a fresh evaluation: any change between two pages is seen."""

from __future__ import annotations

from typing import Any

import requests

from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]

JQL = "project = OPS AND labels = paged ORDER BY updated ASC, key ASC"


def page(env: JiraEnv, token: Any = None, start: int = 0) -> dict[str, Any]:
    if env.mode == "cloud":
        body: dict[str, Any] = {"jql": JQL, "fields": ["summary"], "maxResults": 2}
        if token:
            body["nextPageToken"] = token
        url = f"{env.api}/search/jql"
    else:
        body = {"jql": JQL, "fields": ["summary"], "maxResults": 2, "startAt": start}
        url = f"{env.api}/search"
    response = requests.post(url, json=body, auth=env.auth, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_change_between_two_pages_is_seen_on_the_next_page(jira_env: JiraEnv) -> None:
    keys = [jira_env.sandbox.create_issue(summary=f"n{n}", labels=["paged"]) for n in range(5)]
    first = page(jira_env)
    assert [i["key"] for i in first["issues"]] == keys[:2]
    jira_env.clock.advance(1)
    jira_env.sandbox.edit_issue(keys[0], {"summary": "edited"})  # moves to the end (newest updated)
    second = page(jira_env, first.get("nextPageToken"), 2)
    assert [i["key"] for i in second["issues"]] == keys[3:5]  # every later issue moved one place up
    third = page(jira_env, second.get("nextPageToken"), 4)
    assert [i["key"] for i in third["issues"]] == [keys[0]]
    assert third["issues"][0]["fields"]["summary"] == "edited"


def test_unchanged_pages_are_the_pages_of_a_fresh_search(jira_env: JiraEnv) -> None:
    keys = [jira_env.sandbox.create_issue(summary=f"n{n}", labels=["paged"]) for n in range(5)]
    seen, token, start = [], None, 0
    while True:
        answer = page(jira_env, token, start)
        seen += [i["key"] for i in answer["issues"]]
        start += len(answer["issues"])
        token = answer.get("nextPageToken")
        if (jira_env.mode == "cloud" and not token) or (jira_env.mode != "cloud" and start >= answer["total"]):
            break
    assert seen == keys
