"""The pure planner: from what changed and what was last synced, decide every effect of a cycle.

``plan(mapping, given) -> Plan`` reads no network, no clock and no database: the same
:class:`~bridge.core.state.PlanInput` always gives the same :class:`Plan` (same actions, same keys, same
order). Everything hard about sync — what is new, what changed on which side, who wins, what is an
echo — is decided here, so it is tested here with plain values and hypothesis.

What comes out
==============
:class:`Plan` has three lists:

* ``actions`` — what the executor applies, in order. Actions whose idempotency key is in
  ``given.pending_keys`` (still pending, or on the error list) are left out, and a key never appears
  twice in one plan.
* ``problems`` — :class:`PlanProblem` (item, message) for an item the planner could not plan, e.g. a
  template of the mapping failing on one record's data. The cycle puts them on the error list; the
  other items of the plan are unaffected.
* ``acknowledgements`` — :class:`~bridge.core.actions.SyncedUpdate` values the cycle stores *without*
  any remote write: a side changed something that needs no write on the other side (a Jira edit of a
  ``to_jira`` field, both sides changed to the same value, an unmapped status). Storing them is what
  keeps the next plan from seeing the same change again (idempotence). No action type was added for
  them because they touch no side and cannot fail remotely. An acknowledgement never names a value
  (item and field, or item status) that a planned action's synced updates also set — even an action left
  out because its key is pending — so the order in which the cycle stores them does not matter.

Values and "changed"
====================
Values are compared per rule key (the Jira field name of ``fields:``) in Jira's vocabulary (see
:mod:`bridge.core.state`). A record's value is its projection through the rule
(:func:`bridge.mapping.transform.to_jira_value`, template context = the record's fields plus
``record`` {key, id, url, type}); an issue's value is ``issue.fields[rule_key]`` (a key missing from
``issue.fields`` means "not fetched": unchanged). A side *changed* a value when it differs from that
side's synced value. Only ``sync: always`` rules are kept in sync; ``sync: create`` rules are written by
:class:`CreateIssue` only.

* ``to_jira``: a record change is written to the issue (one :class:`UpdateFields` per issue with every
  changed rule). A Jira-only change is acknowledged, not reverted: the record stays the owner and the
  next record change overwrites it.
* ``to_itsm``: a Jira change is written to EVERY linked record whose value differs (fan-out), with
  ``to_itsm_value`` under the rule's ``itsm`` field. A record-only change is acknowledged.
* ``both``: a one-sided change flows as above. When both sides changed to different values,
  ``conflicts.policy(rule_key)`` decides (:mod:`bridge.sync.conflict`): ``itsm_wins``, ``jira_wins``,
  ``newest_wins`` (``updated`` of the newest changed record vs the issue; a tie is reported) or
  ``report`` (:class:`ReportConflict`, nothing written, nothing acknowledged, so it stays visible until
  someone settles it). A one-way rule never conflicts: its source side owns it.
* Several linked records changing the same rule in one cycle: the newest (by ``updated``, then id) is
  written; the others are acknowledged.
* After a write, the synced value of the written item is the value it will then show: for a record,
  the projection of the ITSM value written (so a non-bijective map does not bounce), for the issue the
  value written.

Statuses
========
A record whose ``status`` differs from its synced status drives the issue through
``status.to_jira`` (:class:`SetStatus` with the target's transition fields, ``source_version`` = the
record version) unless the issue already shows that status. An issue whose status differs from its
synced status drives EVERY linked record through ``status.to_itsm`` (exact name, then
``category:``), with :class:`~bridge.mapping.schema.TemplateValue` fields rendered per record with the
``to_itsm`` context of :mod:`bridge.mapping.context` (the record's fields, ``record``, ``issue``). Only
records that changed this cycle have their ITSM fields at hand; for the others a template that reads a
record field fails, and that record gets a problem saying so (the other records still move). Several
records changing status in one cycle:
the newest with a mapped state drives the issue. Both sides changing status to states that do not
map onto each other is a conflict on the pseudo-field ``status`` (``conflicts.policy("status")``).
A status bridge set is not mirrored back: the SetStatus synced updates make both sides' synced status
what they then show.

Comments
========
A comment on a changed item is mirrored unless: it carries a marker (bridge wrote it); the link state
knows it (a mirror bridge wrote, or an original already mirrored to that target); or the mapping's
policy skips it (:func:`bridge.sync.comments.skip_reason`: direction, ``from_itsm_channels``, skip
regexes). A record's comment goes to the issue once, on channel ``comment`` with
``comments.jira_visibility``, attributed with the record key; an issue's comment goes to EVERY linked
record on ``comments.to_itsm_channel``. Bodies are built by :func:`bridge.sync.comments.mirror_body`.
A comment is never mirrored back to its origin: the origin is never a target.

``notes_to_itsm``: when the issue's ``when_changed`` field differs from its synced value (no value to an
empty one is no change; the first sight of an issue only records its value; a note whose template
renders blank is not posted), each linked
record gets the template rendered with the ``note`` context (as for statuses, plus ``value`` and
``previous``) as a comment on ``comments.to_itsm_channel`` (the mapping's internal
journal: ``work_notes`` by default; Request Tracker has no ``work_notes``), origin = the issue,
``origin_comment_id = f"note:{field}:{digest(value)}"`` so the same value never notes twice.

New records and the issue that does not exist yet
=================================================
A record without a link that the route selects (re-checked with
:func:`~bridge.mapping.transform.selects`) and that ``given.first_start`` does not leave out as closed
history (:mod:`bridge.sync.first_start`; such a record is listed in ``Plan.left_out``, nothing else)
gets, in ONE plan and in this order:

1. :class:`CreateIssue` (all ``to_jira``/``both`` rule values except ``None``; labels = target labels
   + ``links.jira_label``; ``marker`` = ``record.ref.token``; ``record_fields`` = the full projection;
   ``record_status``) — or :class:`LinkExisting` when ``links.link_existing`` names a field holding a
   Jira key (a value that is not a key is a problem, never a guess);
   then :class:`MarkLinked` on the issue after a LinkExisting (the issue a person created lacks
   ``links.jira_label``, without which the Jira side's change query never sees it again), and after a
   CreateIssue when ``links.linked_count_field`` or ``linked_count_label_prefix`` is set (the count the
   executor computes from the stored link when it runs);
2. :class:`WriteBackReference` on the record (the issue key and URL into ``links.itsm_key_field`` /
   ``itsm_url_field``, when set) and, with ``links.remote_link``, on the issue (``title`` = record key);
3. :class:`SetStatus` of the new issue when ``status.to_jira`` maps the record's state (not for
   LinkExisting: one incident joining a shared issue does not move it);
4. :class:`AddComment` for each of the record's comments that the policy lets through.

The follow-ups address the issue through a **placeholder** :class:`~bridge.model.Ref` made by
:func:`bridge.sync.pending.pending_issue` (the protocol lives in :mod:`bridge.sync.pending`): the
executor resolves the placeholder with the link that the preceding CreateIssue/LinkExisting stored for
that record, and journals the action under the key it was planned with (the placeholder's), so a
restart recognises it. If the link is missing (the create
failed), the follow-up stays pending. On CreateIssue success the executor stores the issue's synced
fields = ``CreateIssue.fields``, synced status = the created issue's status, and the record's synced
fields/status = ``record_fields``/``record_status``. A connector's ``set_status`` to the status an item
already has is a no-op, so the planner need not know Jira's initial status.

Not the planner's job: the empty-side safety rail (the cycle knows counts), fetching (the cycle must
fetch into ``issue.fields`` every rule key, every ``notes_to_itsm`` ``when_changed`` field, ``summary``
and ``resolution``). Issues in the changes without a link are ignored (the executor reconciles creates
by marker). A linked record that the route no longer selects keeps syncing: the link is the contract
(``links.on_route_exit: detach`` closes its link instead, after this cycle's sync:
:mod:`bridge.sync.plan_route_exit`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.core.actions import (
    Action,
    AddComment,
    AdoptComment,
    CreateIssue,
    LinkExisting,
    MarkLinked,
    ReportConflict,
    SetStatus,
    SyncedUpdate,
    UpdateFields,
    WriteBackReference,
    digest,
)
from bridge.core.state import LinkState, PlanInput
from bridge.mapping.context import note_context, to_itsm_context
from bridge.mapping.schema import FieldRule, ItsmStateTarget, JiraStatusTarget, TemplateValue
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import RouteTimeout, TemplateError, one_person, render, selects
from bridge.model import Comment, FieldValue, Issue, Record, Ref, Side, Visibility, normalise
from bridge.sync.adoption import MirrorIndex, choose_partner
from bridge.sync.comments import mirror_body, skip_reason
from bridge.sync.conflict import winner
from bridge.sync.pending import pending_issue
from bridge.sync.plan_adoption import AdoptionPlanning
from bridge.sync.plan_comments_rules import customer_visible, route_to_itsm, route_to_jira
from bridge.sync.plan_people import itsm_person, record_value
from bridge.sync.plan_route_exit import RouteExitPlanning
from bridge.sync.plan_views import STATUS, issue_view, project, within_field_limits
from bridge.sync.plan_views import LinkContext as _LinkContext
from bridge.sync.plan_views import Updates as _Updates
from bridge.sync.plan_views import Write as _Write
from bridge.sync.plan_views import is_mirror as _is_mirror
from bridge.text import strip_controls

JIRA_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")

@dataclass(frozen=True, slots=True)
class PlanProblem:
    """An item the planner could not plan (the cycle puts it on the error list)."""

    item: Ref
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What one cycle of one mapping should do (see the module docstring)."""

    actions: list[Action] = field(default_factory=list)
    problems: list[PlanProblem] = field(default_factory=list)
    acknowledgements: list[SyncedUpdate] = field(default_factory=list)
    #: new records the route selects that were left out as closed history (``PlanInput.first_start``)
    left_out: list[Ref] = field(default_factory=list)
    #: what people should know that is not an error (a Jira person with no ITSM user, left as it is)
    notes: list[str] = field(default_factory=list)


class _Planner(AdoptionPlanning, RouteExitPlanning):
    def __init__(self, mapping: MappingSpec, given: PlanInput) -> None:
        self.mapping = mapping
        self.given = given
        self.actions: list[Action] = []
        self.problems: list[PlanProblem] = []
        self.left_out: list[Ref] = []
        self.notes: list[str] = []
        self.acks = _Updates()
        self._keys: set[str] = set()
        self._written: set[tuple[Side, str, str]] = set()  # (side, item id, field or STATUS) an action syncs
        #: mirrors already on either side, by their markers (adopted instead of posted again)
        self.mirrors = MirrorIndex(given.changes.comments)
        rules = mapping.comments
        self.visibility = (
            Visibility(rules.jira_visibility.type, rules.jira_visibility.value) if rules.jira_visibility else None
        )

    # ---------------------------------------------------------------------------- plumbing

    def emit(self, action: Action) -> None:
        key = action.key
        for update in action.synced:
            self._written.update((update.side, update.item_id, name) for name in update.fields)
            if update.status is not None:
                self._written.add((update.side, update.item_id, STATUS))
        if key in self.given.pending_keys or key in self._keys:
            return
        self._keys.add(key)
        self.actions.append(action)

    def problem(self, item: Ref, message: str) -> None:
        self.problems.append(PlanProblem(item, message))

    def run(self) -> Plan:
        changes = self.given.changes
        records = {r.ref.id: r for r in changes.records}  # a later duplicate (overlap window) wins
        issues = {i.ref.id: i for i in changes.issues}
        links: dict[int, LinkState] = {}
        for record_id, record in records.items():
            state = self.given.links_by_record.get(record_id)
            if state is None:
                self.plan_new(record)
            else:
                links.setdefault(state.link.id, state)
        for issue_id in issues:
            state = self.given.links_by_issue.get(issue_id)
            if state is not None:
                links.setdefault(state.link.id, state)
        for link_id in sorted(links):
            self.plan_link(links[link_id], records, issues)
            self.plan_route_exit(links[link_id], records)
        return Plan(self.actions, self.problems, self.acks.build(exclude=self._written), self.left_out, self.notes)

    # ---------------------------------------------------------------------------- new records

    def plan_new(self, record: Record) -> None:
        mapping = self.mapping
        try:
            if not selects(mapping.route.where, record.fields):
                self.rejoin(record)  # a link the store forgot, proven by the marker: adopted, never created
                return
        except RouteTimeout as exc:
            self.problem(record.ref, f"{exc}: whether the route selects {record.ref.key} is unknown, not escalated")
            return
        if self.left_out_as_history(record):
            self.left_out.append(record.ref)
            return
        try:
            projection = project(mapping, record, self.given.people)
        except TemplateError as exc:
            self.problem(record.ref, f"cannot build the issue for {record.ref.key}: {exc}")
            return
        name = mapping.name
        existing = record.fields.get(mapping.links.link_existing) if mapping.links.link_existing else None
        if not (isinstance(existing, str) and existing.strip()):
            decision = choose_partner(record, self.given.partners.get(record.ref.id))
            if decision.problem is not None:
                self.problem(record.ref, decision.problem)
                return
            if decision.issue is not None:
                self.plan_adoption(record, decision.issue, decision.evidence, projection)
                return
        if isinstance(existing, str) and existing.strip():
            issue_key = existing.strip()
            if not JIRA_KEY_RE.match(issue_key):
                self.problem(
                    record.ref,
                    f"{mapping.links.link_existing} of {record.ref.key} holds {issue_key!r}, which is not a Jira "
                    "issue key (like OPS-12): fix the field or clear it to create a new issue",
                )
                return
            key_project = issue_key.rsplit("-", 1)[0]
            allowed = mapping.links.link_existing_projects or [mapping.target.project]
            if key_project not in allowed:
                self.problem(
                    record.ref,
                    f"{mapping.links.link_existing} of {record.ref.key} holds {issue_key}, an issue in project "
                    f"{key_project}; this mapping links only to issues in {', '.join(allowed)} "
                    "(links.link_existing_projects): fix the field or clear it to create a new issue",
                )
                return
            self.emit(LinkExisting(name, None, record.ref, issue_key, projection, record.status))
            placeholder = pending_issue(record.ref, issue_key)
            self.mark_linked(placeholder)
        else:
            create_fields = {
                key: projection[key]
                for key, rule in mapping.fields.items()
                if rule.direction in ("to_jira", "both") and projection[key] is not None
            }
            labels = tuple(dict.fromkeys([*mapping.target.labels, mapping.links.jira_label]))
            self.emit(
                CreateIssue(
                    name,
                    None,
                    record=record.ref,
                    project=mapping.target.project,
                    issue_type=mapping.target.issue_type,
                    fields=create_fields,
                    marker=record.ref.token,
                    labels=labels,
                    components=tuple(mapping.target.components),
                    marker_field=mapping.links.jira_marker_field,
                    record_fields=projection,
                    record_status=record.status,
                )
            )
            placeholder = pending_issue(record.ref)
            if mapping.links.linked_count_field or mapping.links.linked_count_label_prefix:
                self.mark_linked(placeholder)
        self.back_references(record.ref, placeholder, projection)
        if not isinstance(existing, str) or not existing.strip():
            target = mapping.status.jira_target(record.status)
            if target is not None:
                self.emit(
                    SetStatus(
                        name, None, placeholder, target.status, dict(target.fields), record.version,
                        (SyncedUpdate(Side.JIRA, placeholder.id, {}, target.status),),
                    )
                )
        known = self.linked_issue_id(record, existing)
        for comment in self.given.changes.comments.get(record.ref.id, ()):
            if comment.is_mirror:
                continue
            self.comment_to_issue(comment, record.ref, placeholder, found_on=known)
        self.adopt_issue_mirrors(record, placeholder, known)

    def mark_linked(self, issue: Ref) -> None:
        links = self.mapping.links
        self.emit(
            MarkLinked(
                self.mapping.name, None, issue, links.jira_label, links.linked_count_field,
                links.linked_count_label_prefix,
            )
        )

    def back_references(self, record: Ref, issue: Ref, projection: Mapping[str, FieldValue]) -> None:
        links = self.mapping.links
        values: dict[str, FieldValue] = {}
        if links.itsm_key_field:
            values[links.itsm_key_field] = issue.key
        if links.itsm_url_field:
            values[links.itsm_url_field] = issue.url
        if values:
            self.emit(WriteBackReference(self.mapping.name, None, record, issue, values))
        if links.remote_link:
            remote: dict[str, FieldValue] = {"title": record.key}
            summary = projection.get("summary")
            if isinstance(summary, str) and summary:
                remote["summary"] = summary
            self.emit(WriteBackReference(self.mapping.name, None, issue, record, remote))

    # ---------------------------------------------------------------------------- comments

    def comment_to_issue(self, comment: Comment, record: Ref, issue: Ref, link_id: int | None = None,
                         found_on: str | None = None) -> None:
        """``found_on``: the id of the issue a placeholder ``issue`` stands for, where its mirror may be."""
        rules = self.mapping.comments
        mirror = self.mirrors.mirror_of(Side.ITSM, comment.id, found_on or issue.id)
        if mirror is not None:
            self.emit(AdoptComment(self.mapping.name, link_id, issue, record, comment.id, mirror))
            return
        if skip_reason(comment, rules, Side.JIRA, functools.partial(self.problem, record)) is not None:
            return
        routed = route_to_jira(comment, rules, self.visibility, functools.partial(self.problem, record))
        try:
            body = strip_controls(mirror_body(routed.comment(comment), rules, system=self.given.itsm_system,
                                              record=record))
        except TemplateError as exc:
            self.problem(record, f"cannot render the mirror of comment {comment.id}: {exc}")
            return
        self.emit(AddComment(self.mapping.name, link_id, issue, record, comment.id, body, "comment", routed.visibility))

    # ---------------------------------------------------------------------------- linked items

    def plan_link(self, state: LinkState, records: Mapping[str, Record], issues: Mapping[str, Issue]) -> None:
        issue = issues.get(state.link.issue.id)
        issue_ref = issue.ref if issue is not None else state.link.issue
        linked = [records.get(ref.id) for ref in state.link.records]
        changed = sorted((r for r in linked if r is not None), key=lambda r: (r.updated, r.ref.id))
        record_refs = [records[ref.id].ref if ref.id in records else ref for ref in state.link.records]
        projections: dict[str, dict[str, FieldValue]] = {}
        blocked: set[str] = set()
        for record in changed:
            try:
                projections[record.ref.id] = project(self.mapping, record, self.given.people)
            except TemplateError as exc:
                blocked.add(record.ref.id)
                self.problem(record.ref, f"cannot compute the field values of {record.ref.key}: {exc}")
        usable = [r for r in changed if r.ref.id not in blocked]
        ctx = _LinkContext(state, issue, issue_ref, usable, [r for r in record_refs if r.id not in blocked],
                           projections, {r.ref.id: r.fields for r in changed})
        self.plan_fields(ctx)
        self.plan_status(ctx)
        self.plan_comments(ctx, changed, record_refs)
        self.plan_notes(ctx, record_refs)

    def plan_fields(self, ctx: _LinkContext) -> None:
        issue_write = _Write(ctx.issue_ref)
        record_writes = {ref.id: _Write(ref) for ref in ctx.record_refs}
        for key, rule in self.mapping.fields.items():
            if rule.sync != "always":
                continue
            issue_synced = ctx.state.issue.fields.get(key)
            jira_now = one_person(ctx.issue_value(key)) if rule.user else ctx.issue_value(key)
            jira_changed = jira_now != issue_synced
            itsm_changed = [
                (record, ctx.projections[record.ref.id][key])
                for record in ctx.changed
                if ctx.projections[record.ref.id][key] != ctx.synced_record(record.ref.id).get(key)
            ]
            if rule.direction == "to_jira":
                if itsm_changed:
                    self.itsm_to_issue(ctx, key, itsm_changed, jira_now, issue_write)
                elif jira_changed:
                    self.acks.add(Side.JIRA, ctx.issue_ref.id, {key: jira_now})
            elif rule.direction == "to_itsm":
                if jira_changed:
                    self.jira_to_records(ctx, key, rule, jira_now, record_writes)
                for record, value in itsm_changed:  # dropped where the fan-out above writes the record
                    self.acks.add(Side.ITSM, record.ref.id, {key: value})
            elif itsm_changed and jira_changed:
                newest, value = itsm_changed[-1]
                if value == jira_now:
                    self.itsm_to_issue(ctx, key, itsm_changed, jira_now, issue_write)
                    continue
                updated = ctx.issue.updated if ctx.issue is not None else None
                side = winner(self.mapping.conflicts.policy(key), newest.updated, updated)
                if side == "itsm":
                    self.itsm_to_issue(ctx, key, itsm_changed, jira_now, issue_write)
                elif side == "jira":
                    self.jira_to_records(ctx, key, rule, jira_now, record_writes)
                else:
                    self.emit(ReportConflict(self.mapping.name, ctx.state.link.id, key, newest.ref, ctx.issue_ref,
                                             value, jira_now))
            elif itsm_changed:
                self.itsm_to_issue(ctx, key, itsm_changed, jira_now, issue_write)
            elif jira_changed:
                self.jira_to_records(ctx, key, rule, jira_now, record_writes)
        for write in (issue_write, *record_writes.values()):
            if write.values:
                self.emit(UpdateFields(self.mapping.name, ctx.state.link.id, write.target, write.values,
                                       tuple(write.updates.build())))

    def itsm_to_issue(self, ctx: _LinkContext, key: str, itsm_changed: list[tuple[Record, FieldValue]],
                      jira_now: FieldValue, write: _Write) -> None:
        """The newest changed record's value goes to the issue; the other changed records are acknowledged."""
        newest, value = itsm_changed[-1]
        for record, other in itsm_changed[:-1]:
            self.acks.add(Side.ITSM, record.ref.id, {key: other})
        if value == jira_now:
            self.acks.add(Side.ITSM, newest.ref.id, {key: value})
            if jira_now != ctx.state.issue.fields.get(key):
                self.acks.add(Side.JIRA, ctx.issue_ref.id, {key: value})
            return
        write.values[key] = value
        write.updates.add(Side.JIRA, ctx.issue_ref.id, {key: value})
        write.updates.add(Side.ITSM, newest.ref.id, {key: value})

    def jira_to_records(self, ctx: _LinkContext, key: str, rule: FieldRule, jira_now: FieldValue,
                        writes: Mapping[str, _Write]) -> None:
        """Fan the issue's value out to every linked record that does not show it yet."""
        assert rule.itsm is not None
        person = itsm_person(rule, key, jira_now, self.given, ctx.issue_ref.key) if rule.user else None
        if isinstance(person, str):  # nobody to write: the records keep their person, and the plan says why
            self.notes.append(person)
            self.acks.add(Side.JIRA, ctx.issue_ref.id, {key: jira_now})
            for ref in ctx.record_refs:  # kept on purpose (a lost conflict too): not a change to send next cycle
                if ctx.record_value(ref.id, key) != ctx.synced_record(ref.id).get(key):
                    self.acks.add(Side.ITSM, ref.id, {key: ctx.record_value(ref.id, key)})
            return
        wrote = False
        for ref in ctx.record_refs:
            current = ctx.record_value(ref.id, key)
            if current == jira_now:
                if current != ctx.synced_record(ref.id).get(key):
                    self.acks.add(Side.ITSM, ref.id, {key: current})
                continue
            itsm_value, projected = person or record_value(rule, jira_now, self.given, self.mapping, ctx.issue_ref)
            write = writes[ref.id]
            write.values[rule.itsm] = itsm_value
            write.updates.add(Side.ITSM, ref.id, {key: projected})
            write.updates.add(Side.JIRA, ctx.issue_ref.id, {key: jira_now})
            wrote = True
        if not wrote:
            self.acks.add(Side.JIRA, ctx.issue_ref.id, {key: jira_now})

    # ---------------------------------------------------------------------------- statuses

    def plan_status(self, ctx: _LinkContext) -> None:
        rules = self.mapping.status
        issue = ctx.issue
        issue_changed = issue is not None and issue.status is not None and issue.status != ctx.state.issue.status
        moved = [
            r for r in ctx.changed
            if r.status is not None and r.status != ctx.synced_record_state(r.ref.id)
        ]
        driving: tuple[Record, JiraStatusTarget] | None = None
        for record in moved:  # oldest first: the last mapped one is the newest
            target = rules.jira_target(record.status)
            if target is not None:
                driving = (record, target)
        if not issue_changed:
            if moved:
                self.records_to_issue(ctx, moved, driving)
            return
        assert issue is not None
        if driving is None:  # the records' new states mean nothing to Jira: the issue drives
            for record in moved:
                self.acks.add(Side.ITSM, record.ref.id, status=record.status)  # dropped where a SetStatus syncs
            self.issue_to_records(ctx, issue)
            return
        record, target = driving
        back = rules.itsm_target(issue.status, issue.status_category)
        if back is None:  # the issue's new status means nothing to the ITSM: no conflict, the record drives
            self.records_to_issue(ctx, moved, driving, issue_status=issue.status)
            return
        if target.status == issue.status or back.state == record.status:
            for r in moved:
                self.acks.add(Side.ITSM, r.ref.id, status=r.status)
            self.acks.add(Side.JIRA, issue.ref.id, status=issue.status)
            return
        side = winner(self.mapping.conflicts.policy("status"), record.updated, issue.updated)
        if side == "itsm":
            self.records_to_issue(ctx, moved, driving, issue_status=issue.status)
        elif side == "jira":
            self.issue_to_records(ctx, issue)
        else:
            self.emit(ReportConflict(self.mapping.name, ctx.state.link.id, "status", record.ref, issue.ref,
                                     record.status, issue.status))

    def records_to_issue(self, ctx: _LinkContext, moved: list[Record],
                         driving: tuple[Record, JiraStatusTarget] | None, issue_status: str | None = None) -> None:
        current = issue_status if issue_status is not None else ctx.issue_status()
        for record in moved:
            if driving is None or record is not driving[0]:
                self.acks.add(Side.ITSM, record.ref.id, status=record.status)
        if driving is None:
            return
        record, target = driving
        if target.status == current:
            self.acks.add(Side.ITSM, record.ref.id, status=record.status)
            if current != ctx.state.issue.status:
                self.acks.add(Side.JIRA, ctx.issue_ref.id, status=current)
            return
        self.emit(SetStatus(
            self.mapping.name, ctx.state.link.id, ctx.issue_ref, target.status, dict(target.fields), record.version,
            (SyncedUpdate(Side.ITSM, record.ref.id, {}, record.status),
             SyncedUpdate(Side.JIRA, ctx.issue_ref.id, {}, target.status)),
        ))

    def issue_to_records(self, ctx: _LinkContext, issue: Issue) -> None:
        target = self.mapping.status.itsm_target(issue.status, issue.status_category)
        if target is None:
            self.acks.add(Side.JIRA, issue.ref.id, status=issue.status)
            return
        view = issue_view(issue)
        emitted = False
        for ref in ctx.record_refs:
            current = ctx.record_status(ref.id)
            if current == target.state:
                if current != ctx.synced_record_state(ref.id):
                    self.acks.add(Side.ITSM, ref.id, status=current)
                continue
            assert issue.status is not None
            try:
                fields = self.state_fields(target, ctx, ref, view)
            except TemplateError as exc:
                self.problem(ref, f"cannot render the fields of ITSM state {target.state} for {ref.key}: {exc}"
                             + ctx.unknown_fields_hint(ref.id))
                emitted = True  # no acknowledgement: the move is planned again when the issue next changes
                continue
            self.emit(SetStatus(
                self.mapping.name, ctx.state.link.id, ref, target.state, fields, issue.version,
                (SyncedUpdate(Side.ITSM, ref.id, {}, target.state),
                 SyncedUpdate(Side.JIRA, issue.ref.id, {}, issue.status)),
            ))
            emitted = True
        if not emitted:
            self.acks.add(Side.JIRA, issue.ref.id, status=issue.status)

    def state_fields(self, target: ItsmStateTarget, ctx: _LinkContext, record: Ref,
                     view: Mapping[str, Any]) -> dict[str, FieldValue]:
        context = to_itsm_context(ctx.record_fields(record.id), record, view)
        return within_field_limits({
            name: render(value.template, context) if isinstance(value, TemplateValue) else normalise(value)
            for name, value in target.fields.items()
        }, self.given.itsm_limits, self.mapping.comments.truncation_notice, ctx.issue_ref)

    # ---------------------------------------------------------------------------- comments, notes

    def plan_comments(self, ctx: _LinkContext, changed: list[Record], record_refs: list[Ref]) -> None:
        comments = self.given.changes.comments
        state = ctx.state
        for record in changed:
            for comment in comments.get(record.ref.id, ()):
                if comment.is_mirror or state.knows_comment(Side.ITSM, comment.id):
                    continue
                self.comment_to_issue(comment, record.ref, ctx.issue_ref, state.link.id)
        if ctx.issue is None:
            return
        rules = self.mapping.comments
        self.mirrors.stored(p.mirror_id for p in state.comments if p.origin_side is Side.JIRA)
        for comment in comments.get(ctx.issue.ref.id, ()):
            if comment.is_mirror or _is_mirror(state, Side.JIRA, comment.id):
                continue
            if skip_reason(comment, rules, Side.ITSM, functools.partial(self.problem, ctx.issue_ref)) is not None:
                continue
            routed = route_to_itsm(comment, rules, functools.partial(self.problem, ctx.issue_ref))
            customer = customer_visible(self.mapping, routed.channel)
            for ref in record_refs:
                if state.mirrored_to(Side.JIRA, comment.id, ref.id):
                    continue
                mirror = self.mirrors.mirror_of(Side.JIRA, comment.id, ref.id, (routed.body,))
                if mirror is not None:
                    self.emit(AdoptComment(self.mapping.name, state.link.id, ref, ctx.issue_ref, comment.id, mirror))
                    continue
                try:
                    body = strip_controls(mirror_body(routed.comment(comment), rules, system=self.given.jira_system,
                                                      record=ref, customer=customer))
                except TemplateError as exc:
                    self.problem(ctx.issue_ref, f"cannot render the mirror of comment {comment.id}: {exc}")
                    break
                self.emit(AddComment(self.mapping.name, state.link.id, ref, ctx.issue_ref, comment.id, body,
                                     routed.channel))

    def plan_notes(self, ctx: _LinkContext, record_refs: list[Ref]) -> None:
        issue = ctx.issue
        if issue is None or not self.mapping.notes_to_itsm:
            return
        synced_rules = {k for k, r in self.mapping.fields.items() if r.sync == "always"}
        for note in self.mapping.notes_to_itsm:
            name = note.when_changed
            if name not in issue.fields:
                continue
            value, previous = issue.fields[name], ctx.state.issue.fields.get(name)
            if value == previous or (_blank(value) and _blank(previous)):
                if name not in synced_rules and name not in ctx.state.issue.fields:
                    self.acks.add(Side.JIRA, issue.ref.id, {name: value})
                continue
            if not ctx.state.issue.fields and not ctx.state.issue.version:
                # first sight of the issue: its value is where it starts, not a change to announce
                if name not in synced_rules:
                    self.acks.add(Side.JIRA, issue.ref.id, {name: value})
                continue
            origin_id = f"note:{name}:{digest(value)}"
            view = issue_view(issue)
            for ref in record_refs:
                if ctx.state.mirrored_to(Side.JIRA, origin_id, ref.id):
                    continue
                mirror = self.mirrors.mirror_of(Side.JIRA, origin_id, ref.id)
                if mirror is not None:
                    self.emit(AdoptComment(self.mapping.name, ctx.state.link.id, ref, issue.ref, origin_id, mirror))
                    continue
                context = note_context(ctx.record_fields(ref.id), ref, view, value=value, previous=previous)
                try:
                    body = render(note.template, context)
                except TemplateError as exc:
                    self.problem(ref, f"cannot render the note for {name} on {ref.key}: {exc}"
                                 + ctx.unknown_fields_hint(ref.id))
                    continue
                if not body.strip():
                    continue  # the template chose to say nothing (`{% if %}` around it): no empty note
                self.emit(AddComment(self.mapping.name, ctx.state.link.id, ref, issue.ref, origin_id, body,
                                     self.mapping.comments.to_itsm_channel))
            if name not in synced_rules:
                self.acks.add(Side.JIRA, issue.ref.id, {name: value})


def _blank(value: object) -> bool:
    """No value at all: ``None``, empty text or an empty list (Jira sends ``[]`` for no fix version)."""
    return value is None or value == "" or value == [] or value == ()


def plan(mapping: MappingSpec, given: PlanInput) -> Plan:
    """Plan one cycle of ``mapping`` (see the module docstring for every rule)."""
    return _Planner(mapping, given).run()


__all__ = [
    "JIRA_KEY_RE",
    "Plan",
    "PlanProblem",
    "issue_view",
    "plan",
    "project",
]
