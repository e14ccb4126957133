"""The sandbox's own minimal text helpers (it must not depend on the connector it is testing).

People scripted through the sandbox write plain text; the sandbox stores it the way Jira would have
received it from a browser: ADF on Cloud (one paragraph per blank-line block, ``hardBreak`` for line
breaks — ADF spec https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/) and a
plain wiki string on Data Center.
"""

from __future__ import annotations

from typing import Any


def text_to_adf(text: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        nodes: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


def adf_to_text(node: Any) -> str:
    """Flatten ADF for JQL text search and for the admin listing (not a faithful renderer)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    inner = "".join(adf_to_text(child) for child in node.get("content", []) or [])
    if kind in ("paragraph", "codeBlock", "heading", "listItem"):
        return inner + "\n"
    return inner


def is_adf(value: Any) -> bool:
    """Jira Cloud's test for "an Atlassian Document": a doc node with version 1 and a content list."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )
