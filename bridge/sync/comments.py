"""Comment rules of a mapping: which comments cross, and what the mirror says.

Pure functions used by the planner, on top of the mapping language's own comment transforms
(:func:`bridge.mapping.transform.attribution`, :func:`~bridge.mapping.transform.truncate`,
:func:`~bridge.mapping.transform.is_skipped`), so what ``bridge check`` validates is what runs. Two things
matter to the people reading mirrored comments:

* **Who said it.** A mirror is written by bridge's service account, so the body starts with an
  attribution line rendered from ``comments.attribution`` with ``author``, ``system`` (the display name
  of the side the comment comes from) and ``record`` ({key, id, url, type} of the record the comment
  was made on, or is going to).
* **Nothing silently lost.** A body longer than ``comments.max_length`` (by default the target's
  limit) is cut at a line or word boundary and ends with the rendered ``truncation_notice``
  (``omitted``: how many characters were cut, ``source``: where the whole comment is), never exceeding
  the limit.

:func:`skip_reason` applies the mapping's *policy* (direction, ITSM channels, skip regexes); echo
detection (markers, comments already mirrored) is the planner's, because it needs the link state.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.mapping.context import record_context
from bridge.mapping.schema import CommentRules
from bridge.mapping.transform import PatternTimeout, attribution, is_skipped, truncate
from bridge.model import Comment, Ref, Side
from bridge.vendors import jira as jira_facts


def skip_reason(
    comment: Comment, rules: CommentRules, to_side: Side, on_problem: Callable[[str], None] | None = None
) -> str | None:
    """Why the mapping's policy keeps ``comment`` from crossing to ``to_side``, or ``None`` to mirror it.

    A skip rule that runs out of time is not applied; ``on_problem`` hears a sentence naming the rule and
    the comment, for the error list.
    """
    if rules.direction == "none":
        return "comments are not mirrored by this mapping"
    wanted = "to_jira" if to_side is Side.JIRA else "to_itsm"
    if rules.direction not in ("both", wanted):
        return f"comments only flow {rules.direction.replace('_', ' ')}"
    if to_side is Side.JIRA and comment.channel not in rules.from_itsm_channels:
        return f"channel {comment.channel!r} is not in from_itsm_channels"

    def timed_out(index: int, exc: PatternTimeout) -> None:
        if on_problem is not None:
            on_problem(
                f"skip rule {index + 1} ({exc.pattern!r}) took longer than {exc.limit_ms:g} ms on comment "
                f"{comment.id}: not applied, comment mirrored"
            )

    if is_skipped(comment.body, rules, timed_out):
        return "body matches a skip pattern"
    return None


def mirror_body(comment: Comment, rules: CommentRules, *, system: str, record: Ref, customer: bool = False) -> str:
    """The text of the mirror of ``comment``: attribution line, a newline, the body; truncated.

    ``record`` is the record the comment was made on (ITSM → Jira) or is going to (Jira → ITSM). On a
    channel the record's customer reads (``customer``) the first line is ``comments.customer_attribution``
    (by default the person's name only): nothing internal reaches the customer. Without
    ``comments.max_length`` a mirror going to Jira is cut to Jira's comment limit (the connector measures
    it again after conversion); the notice names the item holding the whole comment (its origin).
    Raises :class:`~bridge.mapping.transform.TemplateError` when the attribution or notice template fails.
    """
    template = rules.customer_attribution if customer else rules.attribution
    head = attribution(rules, author=comment.author, system=system, record=record_context(record),
                       template=template).strip()
    to_jira = comment.parent.side is Side.ITSM
    return truncate(
        f"{head}\n{comment.body}" if head else comment.body,
        rules,
        source={"key": comment.parent.key, "url": comment.parent.url},
        limit=jira_facts.MAX_COMMENT_LENGTH if to_jira else None,
    )
