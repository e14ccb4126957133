"""The planner's part for records whose issue already exists (adoption) and for the first start.

A mixin of :class:`bridge.sync.planner._Planner` (pure, like all of the planner): linking a record to an
issue found by its back-reference or marker instead of creating one, and leaving out closed history
older than the first start. Split from :mod:`bridge.sync.planner` to keep it readable.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bridge.core.actions import (
    Action,
    AddComment,
    AdoptComment,
    AdoptIssue,
)
from bridge.core.state import ItemState, LinkState, PlanInput
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import TemplateError
from bridge.model import Comment, FieldValue, Issue, Link, Record, Ref, Side
from bridge.sync.adoption import MirrorIndex, choose_partner
from bridge.sync.comments import mirror_body, skip_reason
from bridge.sync.plan_comments_rules import customer_visible, route_to_itsm
from bridge.sync.plan_views import LinkContext as _LinkContext
from bridge.sync.plan_views import project
from bridge.text import strip_controls


class AdoptionPlanning:
    """What :class:`~bridge.sync.planner._Planner` plans for adoptions; it provides the plumbing."""

    mapping: MappingSpec
    given: PlanInput
    mirrors: MirrorIndex

    if TYPE_CHECKING:
        def emit(self, action: Action) -> None: ...
        def problem(self, item: Ref, message: str) -> None: ...
        def back_references(self, record: Ref, issue: Ref, projection: Mapping[str, FieldValue]) -> None: ...
        def comment_to_issue(self, comment: Comment, record: Ref, issue: Ref, link_id: int | None = None,
                             found_on: str | None = None) -> None: ...
        def plan_fields(self, ctx: _LinkContext) -> None: ...
        def plan_status(self, ctx: _LinkContext) -> None: ...

    def plan_adoption(self, record: Record, issue: Issue, evidence: str, projection: Mapping[str, FieldValue]) -> None:
        """Link ``record`` to its existing ``issue`` instead of creating one (see :mod:`bridge.sync.adoption`).

        Both sides' current values become the synced ones (nothing is re-sent); the comment pairs their
        markers prove are restored; a missing back-reference is written; comments on either side that
        have no mirror yet are mirrored as on any link.
        """
        comments = self.given.changes.comments
        record_comments = comments.get(record.ref.id, ())
        issue_comments = comments.get(issue.ref.id, ())
        rules = self.mapping.comments
        texts = {c.id: (c.body, route_to_itsm(c, rules).body) for c in issue_comments if not c.is_mirror}
        pairs = tuple(self.mirrors.pairs(record.ref.id, issue.ref.id, [c.id for c in record_comments], texts))
        agreed = {
            key: value for key, value in projection.items()
            if key in issue.fields and issue.fields[key] == value
        }
        status_agrees = self.statuses_agree(record, issue)
        self.emit(AdoptIssue(
            self.mapping.name, None, record.ref, issue.ref, {**issue.fields, **agreed}, issue.status, issue.version,
            dict(projection), record.status, evidence, pairs,
        ))
        # Where the two sides disagree there is no synced value to tell which side changed: the values
        # are planned as changed on both sides, so the mapping's direction and conflict policy decide.
        disagreed = {k for k, rule in self.mapping.fields.items() if rule.sync == "always" and k not in agreed}
        if disagreed or not status_agrees:
            link = Link(None, self.mapping.name, issue.ref, (record.ref,), issue.updated)  # type: ignore[arg-type]
            synced_issue = {k: v for k, v in issue.fields.items() if k not in disagreed}
            state = LinkState(
                link,
                ItemState(issue.ref, synced_issue, issue.status if status_agrees else None),
                {record.ref.id: ItemState(record.ref, agreed, record.status if status_agrees else None)},
            )
            ctx = _LinkContext(state, issue, issue.ref, [record], [record.ref], {record.ref.id: dict(projection)},
                               {record.ref.id: record.fields})
            self.plan_fields(ctx)
            self.plan_status(ctx)
        if record.back_reference != issue.ref.key:
            self.back_references(record.ref, issue.ref, projection)
        paired = {(p.origin_side, p.origin_id) for p in pairs}
        for comment in record_comments:
            if not comment.is_mirror and (Side.ITSM, comment.id) not in paired:
                self.comment_to_issue(comment, record.ref, issue.ref)
        for comment in issue_comments:
            if comment.is_mirror or (Side.JIRA, comment.id) in paired:
                continue
            if skip_reason(comment, rules, Side.ITSM, functools.partial(self.problem, issue.ref)) is not None:
                continue
            # routed by comments.rules as on any link: a "[customer]" comment is a reply, not a work note
            routed = route_to_itsm(comment, rules, functools.partial(self.problem, issue.ref))
            try:
                body = strip_controls(mirror_body(routed.comment(comment), rules, system=self.given.jira_system,
                                                  record=record.ref,
                                                  customer=customer_visible(self.mapping, routed.channel)))
            except TemplateError as exc:
                self.problem(issue.ref, f"cannot render the mirror of comment {comment.id}: {exc}")
                continue
            self.emit(AddComment(self.mapping.name, None, record.ref, issue.ref, comment.id, body, routed.channel))

    def rejoin(self, record: Record) -> None:
        """A record outside the route without a stored link: adopted when the issue its back-reference
        names carries its marker (bridge linked it before the store forgot: :mod:`bridge.sync.rejoin`),
        otherwise left alone (a route exit is never a reason to escalate)."""
        decision = choose_partner(record, self.given.partners.get(record.ref.id))
        if decision.issue is None or decision.evidence != "marker and back-reference":
            return
        try:
            projection = project(self.mapping, record)
        except TemplateError as exc:
            self.problem(record.ref, f"cannot compute the field values of {record.ref.key}: {exc}")
            return
        self.plan_adoption(record, decision.issue, decision.evidence, projection)

    def linked_issue_id(self, record: Record, existing: object) -> str | None:
        """The id of the issue a ``link_existing`` record names, when the cycle read it (its comments)."""
        partners = self.given.partners.get(record.ref.id)
        named = partners.by_back_reference if partners is not None else None
        if named is None or not isinstance(existing, str) or named.ref.key != existing.strip():
            return None
        return named.ref.id

    def adopt_issue_mirrors(self, record: Record, placeholder: Ref, issue_id: str | None) -> None:
        """A record linked again by ``link_existing`` after the state database was lost: the issue's
        comments already mirrored on it (their markers prove it) are adopted, never mirrored twice."""
        if issue_id is None:
            return
        for comment in self.given.changes.comments.get(issue_id, ()):
            if comment.is_mirror:
                continue
            texts = (comment.body, route_to_itsm(comment, self.mapping.comments).body)
            mirror = self.mirrors.mirror_of(Side.JIRA, comment.id, record.ref.id, texts)
            if mirror is not None:
                self.emit(AdoptComment(self.mapping.name, None, record.ref, placeholder, comment.id, mirror))

    def statuses_agree(self, record: Record, issue: Issue) -> bool:
        """True when the record's and the issue's statuses map onto each other (or either is unmapped)."""
        rules = self.mapping.status
        to_jira = rules.jira_target(record.status)
        to_itsm = rules.itsm_target(issue.status, issue.status_category)
        if to_jira is None and to_itsm is None:
            return True
        return (to_jira is not None and to_jira.status == issue.status) or (
            to_itsm is not None and to_itsm.state == record.status
        )

    def left_out_as_history(self, record: Record) -> bool:
        """Closed history from before the first start, that would need a NEW issue: not escalated. A record
        naming its issue (``link_existing``) or whose issue is found (adoption) is linked as usual."""
        first_start = self.given.first_start
        if first_start is None or not first_start.leaves_out(record):
            return False
        links = self.mapping.links
        existing = record.fields.get(links.link_existing) if links.link_existing else None
        if isinstance(existing, str) and existing.strip():
            return False
        partners = self.given.partners.get(record.ref.id)
        return partners is None or not (partners.by_marker or partners.by_back_reference)
