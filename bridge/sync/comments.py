"""Comment rules of a mapping: which comments cross, and what the mirror says.

Pure functions used by the planner. Two things matter to the people reading mirrored comments:

* **Who said it.** A mirror is written by bridge's service account, so the body starts with an
  attribution line rendered from ``comments.attribution`` (variables: ``author``, ``system`` — the
  display name of the side the comment comes from —, ``record`` — the key of the record the comment was
  made on or is going to —, ``issue`` — the Jira key, empty while the issue is still being created —
  and ``created``, ISO 8601 UTC).
* **Nothing silently lost.** A body longer than ``comments.max_length`` is cut and ends with the
  rendered ``truncation_notice`` (variable ``omitted``: how many characters were cut), so the reader
  knows to open the original. The result never exceeds ``max_length``.

Skip rules (:func:`skip_reason`) only apply the mapping's *policy* (direction, ITSM channels, skip
regexes); echo detection (markers, comments already mirrored) is the planner's, because it needs the
link state.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bridge.mapping.schema import CommentRules
from bridge.mapping.transform import render
from bridge.model import Comment, Side


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def skip_reason(comment: Comment, rules: CommentRules, to_side: Side) -> str | None:
    """Why the mapping's policy keeps ``comment`` from crossing to ``to_side``, or ``None`` to mirror it."""
    if rules.direction == "none":
        return "comments are not mirrored by this mapping"
    wanted = "to_jira" if to_side is Side.JIRA else "to_itsm"
    if rules.direction not in ("both", wanted):
        return f"comments only flow {rules.direction.replace('_', ' ')}"
    if to_side is Side.JIRA and comment.channel not in rules.from_itsm_channels:
        return f"channel {comment.channel!r} is not in from_itsm_channels"
    for pattern in rules.skip:
        if _compiled(pattern).search(comment.body):
            return f"body matches skip pattern {pattern!r}"
    return None


def truncate(text: str, max_length: int, notice_template: str) -> str:
    """``text`` cut to at most ``max_length`` characters, ending with the rendered notice when cut.

    The notice's length depends on the number it reports, so the cut point is found by iterating until
    the count is consistent (two rounds at most in practice: the digit count changes at most once).
    """
    if len(text) <= max_length:
        return text
    omitted = len(text) - max_length
    for _ in range(8):
        notice = render(notice_template, {"omitted": omitted})
        keep = max(0, max_length - len(notice) - 1)
        actual = len(text) - keep
        if actual == omitted:
            break
        omitted = actual
    notice = render(notice_template, {"omitted": omitted})
    keep = max(0, max_length - len(notice) - 1)
    result = text[:keep].rstrip() + "\n" + notice
    return result[:max_length]


def mirror_body(
    comment: Comment,
    rules: CommentRules,
    *,
    system: str,
    record_key: str,
    issue_key: str,
) -> str:
    """The text of the mirror of ``comment``: attribution line, a newline, the body; truncated.

    Raises :class:`~bridge.mapping.transform.TemplateError` when the attribution or notice template fails.
    """
    attribution = render(
        rules.attribution,
        {
            "author": comment.author,
            "system": system,
            "record": record_key,
            "issue": issue_key,
            "created": comment.created.isoformat(),
        },
    ).strip()
    text = f"{attribution}\n{comment.body}" if attribution else comment.body
    return truncate(text, rules.max_length, rules.truncation_notice)
