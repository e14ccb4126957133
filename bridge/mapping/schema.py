"""The YAML mapping language, as pydantic models.

One YAML file under ``mappings/`` is one :class:`Mapping`. Every model forbids unknown keys, so a typo is
an error with a "did you mean" hint rather than a silently ignored line. The full reference, with an
example for every key, is ``docs/mappings.md``; a test loads every snippet of it against these models.

The engine consumes these objects as they are; connectors compile :class:`Route` conditions into their
native query language (ServiceNow encoded query, RT TicketSQL) and filter what they cannot compile
locally with :func:`bridge.mapping.transform.matches`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bridge.mapping.attachments import AttachmentRules
from bridge.mapping.patterns import check_syntax

Scalar = str | int | float | bool


def rule_error(message: str, hint: str | None = None) -> PydanticCustomError:
    """A validation error whose ``ctx`` carries a hint the loader prints under the message.

    The message goes through ``ctx`` rather than the template so that braces in it (Jinja examples) are
    not read as placeholders.
    """
    return PydanticCustomError("mapping_rule", "{message}", {"message": message, "hint": hint or ""})


def _valid_regex(pattern: str) -> str:
    problem = check_syntax(pattern)  # the engine that runs mapping regexes (bridge.mapping.patterns)
    if problem is not None:
        raise rule_error(
            f"invalid regular expression: {problem}",
            "Python `re` syntax; quote the value in YAML, e.g. '^\\[auto\\]'",
        )
    return pattern


Regex = Annotated[str, AfterValidator(_valid_regex)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------------------------- route


class FieldCondition(_Strict):
    """One test on one ITSM field. Exactly one operator is given."""

    field: str = Field(examples=["assignment_group"])
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    matches: Regex | None = None
    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None
    is_empty: bool | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> FieldCondition:
        given = [name for name in OPERATORS if getattr(self, _attr(name)) is not None]
        if len(given) != 1:
            raise rule_error(
                f"a condition needs exactly one operator of {', '.join(OPERATORS)}; got "
                + (", ".join(given) if given else "none"),
                "split it into two conditions under `all:`" if given else "e.g. `equals: Application Support L3`",
            )
        return self

    @property
    def operator(self) -> str:
        return next(name for name in OPERATORS if getattr(self, _attr(name)) is not None)

    @property
    def operand(self) -> Any:
        return getattr(self, _attr(self.operator))


OPERATORS = ("equals", "not_equals", "in", "not_in", "matches", "lt", "lte", "gt", "gte", "is_empty")


def _attr(operator: str) -> str:
    return "in_" if operator == "in" else operator


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class NotOf(_Strict):
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "field"
    if isinstance(value, BaseModel):
        return {AllOf: "all", AnyOf: "any", NotOf: "not", FieldCondition: "field"}.get(type(value))
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[FieldCondition, Tag("field")],
    Discriminator(_condition_kind),
]


class Route(_Strict):
    """Which ITSM records this mapping escalates.

    ``record_type`` is the ServiceNow table (``incident``, ``change_request``) or, for Request Tracker,
    the queue name. ``where`` is an optional condition tree; without it every record of the type is
    selected.
    """

    record_type: str = Field(examples=["incident"])
    where: Condition | None = None
    system: Literal["servicenow", "rt", "jsm"] | None = None
    """Which ITSM the record type belongs to; by default ServiceNow for ``incident``/``change_request``
    and Request Tracker (``record_type`` is then the queue) for anything else."""


# -------------------------------------------------------------------------------------------- target


class Target(_Strict):
    """Where escalated records land in Jira."""

    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,254}$", examples=["DEMO"])
    issue_type: str = Field(examples=["Bug"])
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _labels_have_no_spaces(cls, labels: list[str]) -> list[str]:
        for label in labels:
            if not label or any(ch.isspace() for ch in label):
                raise rule_error(
                    f"Jira labels cannot be empty or contain spaces: {label!r}",
                    "use `-` or `_` instead of spaces, e.g. " + ("-".join(label.split()) or "escalated"),
                )
        return labels


# -------------------------------------------------------------------------------------------- fields


class FieldRule(_Strict):
    """How one Jira field (the key of ``fields:``) gets its value, and which way it flows.

    Exactly one source: ``itsm`` (copy an ITSM field, optionally through ``map`` with a required
    ``default``), ``template`` (Jinja2, sandboxed, plain-text output) or ``value`` (a constant).
    ``direction`` is ``to_jira`` (default), ``to_itsm`` or ``both``; the last two need ``itsm`` (the ITSM
    field written back) and, with a ``map``, use it in reverse (``itsm_default`` for Jira values the map
    does not name). ``sync`` says whether the value is written on create only or kept in sync.
    """

    itsm: str | None = None
    template: str | None = None
    value: Scalar | list[str] | None = None
    map: dict[str, Scalar] | None = None
    default: Scalar | None = None
    itsm_default: Scalar | None = None
    direction: Literal["to_jira", "to_itsm", "both"] = "to_jira"
    sync: Literal["always", "create"] = "always"
    user: bool = False
    """The ``itsm`` field holds a person (ServiceNow ``assigned_to``/``caller_id``, RT ``Owner``): the Jira
    value is that person's Jira account, found through the mapping's ``users:`` section."""
    max_length: int | None = Field(default=None, ge=50, le=100_000)
    """Longest text written to the target field; by default what the target takes (Jira: summary 255, other
    text 32,767; ServiceNow, for text written back: the field's ``sys_dictionary.max_length``). Longer text
    is cut at a line or word boundary and ends with ``comments.truncation_notice``, so a long value lands
    with a visible notice instead of a refusal."""

    @field_validator("map", mode="before")
    @classmethod
    def _map_keys_are_strings(cls, value: Any) -> Any:
        # YAML reads `1: Highest` with an int key; ITSM values are compared as strings.
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        sources = [
            name for name in ("itsm", "template", "value") if getattr(self, name) is not None
        ]
        if self.direction == "to_itsm":
            if self.itsm is None:
                raise rule_error(
                    "direction to_itsm needs `itsm:` (the ITSM field the Jira value goes to)",
                    "e.g. `itsm: u_fix_version`",
                )
            if self.template is not None or self.value is not None:
                raise rule_error(
                    "direction to_itsm takes `itsm:` (and `map:`), not `template:` or `value:`",
                    "to write a formatted work note when a Jira field changes, use `notes_to_itsm:`",
                )
        elif len(sources) != 1:
            raise rule_error(
                "a field rule needs exactly one source of `itsm`, `template`, `value`; got "
                + (", ".join(sources) if sources else "none"),
                "e.g. `itsm: short_description`, `template: \"{{ number }}\"` or `value: ServiceNow`",
            )
        if self.direction == "both" and self.itsm is None:
            raise rule_error("direction both needs `itsm:` as its source", "templates and constants only flow to Jira")
        if self.map is not None:
            if self.itsm is None:
                raise rule_error("`map:` translates an ITSM field: give `itsm:` too", "e.g. `itsm: priority`")
            if self.default is None and self.direction != "to_itsm":
                raise rule_error(
                    "a value map needs a `default:` for ITSM values it does not name",
                    "add `default:` next to `map:`, e.g. `default: Medium`",
                )
        if self.default is not None and self.map is None:
            raise rule_error("`default:` belongs to a `map:`", "remove `default:` or add a `map:`")
        if self.user and (self.itsm is None or self.map is not None or self.direction != "to_jira"):
            raise rule_error(
                "`user: true` maps the person in an `itsm:` field to Jira (direction to_jira, no `map:`)",
                "e.g. `assignee: {itsm: assigned_to, user: true}`; Jira → ITSM people are not mapped yet",
            )
        return self


class NoteRule(_Strict):
    """A work note written to the ITSM record when a Jira field changes (e.g. the fix version is set)."""

    when_changed: str = Field(examples=["fixVersions"])
    template: str = Field(examples=["Fix version set in {{ issue.key }}: {{ issue.fields.fixVersions }}"])


# -------------------------------------------------------------------------------------------- status


class JiraStatusTarget(_Strict):
    """A Jira status to move to, with the transition-screen fields it needs (e.g. ``resolution``)."""

    status: str = Field(examples=["Done"])
    fields: dict[str, Scalar] = Field(default_factory=dict)


class TemplateValue(_Strict):
    """A field value rendered from a template (``{template: "Fixed in {{ issue.key }}"}``)."""

    template: str = Field(examples=["Fixed in {{ issue.key }}"])


class ItsmStateTarget(_Strict):
    """An ITSM state to set, with the fields the ITSM demands in the same write.

    ServiceNow incidents resolved need ``close_code`` and ``close_notes``; On Hold needs ``hold_reason``.
    A field value is a constant or ``{template: …}`` rendered with the Jira issue in context.
    """

    state: str = Field(examples=["6"])
    fields: dict[str, Scalar | TemplateValue] = Field(default_factory=dict)

    @field_validator("state", mode="before")
    @classmethod
    def _state_is_string(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class StatusRules(_Strict):
    """Statuses both ways. Mappings name statuses, never transition ids.

    ``to_jira`` keys are ITSM state values; ``to_itsm`` keys are Jira status names or
    ``category:new|indeterminate|done`` (an exact status name wins over its category).
    """

    to_jira: dict[str, str | JiraStatusTarget] = Field(default_factory=dict)
    to_itsm: dict[str, str | ItsmStateTarget] = Field(default_factory=dict)

    @field_validator("to_jira", mode="before")
    @classmethod
    def _state_keys_are_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @field_validator("to_itsm", mode="before")
    @classmethod
    def _state_values_are_strings(cls, value: Any) -> Any:
        # `Done: 6` reads as an int; ITSM states are compared as strings (ServiceNow sends "6").
        if isinstance(value, dict):
            return {
                str(k): str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                for k, v in value.items()
            }
        return value

    def jira_target(self, itsm_state: str | None) -> JiraStatusTarget | None:
        if itsm_state is None:
            return None
        target = self.to_jira.get(str(itsm_state))
        if isinstance(target, str):
            return JiraStatusTarget(status=target)
        return target

    def itsm_target(self, jira_status: str | None, category: str | None) -> ItsmStateTarget | None:
        target = self.to_itsm.get(jira_status or "") if jira_status else None
        if target is None and category:
            target = self.to_itsm.get(f"category:{category}")
        if isinstance(target, str):
            return ItsmStateTarget(state=target)
        return target


# ------------------------------------------------------------------------------------------ comments


class VisibilityRule(_Strict):
    """Restricts the Jira comments bridge writes to a project role or a group."""

    type: Literal["role", "group"] = Field(examples=["role"])
    value: str = Field(examples=["Developers"])


DEFAULT_TRUNCATION_NOTICE = (
    "… (truncated by bridge: {{ omitted }} more characters in {{ source.key }}"
    "{% if source.url %}: {{ source.url }}{% endif %})"
)


class CommentRoute(_Strict):
    """One routing rule: a comment whose body matches ``match`` goes to ``channel`` (the first match wins).

    ``strip`` removes the matched text from the mirror (``^\\[customer\\]\\s*`` → the prefix is not
    shown). ``visibility`` restricts the Jira comment (rules ``to_jira``): a role or group, or ``public``
    for none even when ``jira_visibility`` is set.
    """

    match: Regex = Field(examples=["^\\[customer\\]"])
    channel: str | None = None
    strip: bool = False
    visibility: VisibilityRule | Literal["public"] | None = None

    @model_validator(mode="after")
    def _something_to_do(self) -> CommentRoute:
        if self.channel is None and self.visibility is None and not self.strip:
            raise rule_error(
                "a comment rule needs `channel`, `visibility` or `strip`",
                "e.g. `{match: '^\\[customer\\]', channel: comments, strip: true}`",
            )
        return self


class CommentRouting(_Strict):
    """Ordered routing rules per direction; a comment no rule matches takes the mapping's channel."""

    to_itsm: list[CommentRoute] = Field(default_factory=list)
    to_jira: list[CommentRoute] = Field(default_factory=list)


class CommentRules(_Strict):
    """Which comments flow, where they land and how they are labelled."""

    direction: Literal["both", "to_jira", "to_itsm", "none"] = "both"
    to_itsm_channel: str = "work_notes"
    from_itsm_channels: list[str] = Field(default_factory=lambda: ["work_notes", "comments"])
    jira_visibility: VisibilityRule | None = None
    attribution: str = "{{ author }} ({{ system }}) wrote:"
    customer_attribution: str = "{{ author }}"
    """First line of a mirror on a channel the record's customer reads (ServiceNow ``comments``, RT
    ``correspond``, JSM ``public``): by default the person's name only, nothing about bridge or Jira."""
    rules: CommentRouting = Field(default_factory=CommentRouting)
    skip: list[Regex] = Field(default_factory=list)
    max_length: int | None = Field(default=None, ge=200, le=1_000_000)
    """Longest mirrored comment, notice included; by default the target's limit (Jira and JSM 32,767,
    measured again by the connector after conversion to ADF or wiki markup; ServiceNow and RT: none)."""
    truncation_notice: str = DEFAULT_TRUNCATION_NOTICE
    """The last line of a text bridge cut (comments and ``fields``): ``omitted`` is the count of
    characters left out (``98,211``), ``source`` the item holding the whole text (``key``, ``url``)."""


# --------------------------------------------------------------------------------------------- links


class LinkRules(_Strict):
    """How the two sides point at each other, and how an issue is found again after a crash.

    ``itsm_key_field`` receives the Jira key, ``itsm_url_field`` the issue URL (``None`` to skip).
    ``jira_marker_field`` names a custom field to hold the record's marker token; when ``None`` the
    token is a label. ``jira_label`` is put on every issue this mapping manages: it is how the Jira
    side's change query is bounded. ``link_existing`` names an ITSM field that may already hold a Jira
    key: such records are linked to that issue instead of creating one, but only when the issue is in
    ``link_existing_projects`` (by default the target project): the field is typed by whoever edits the
    record, and bridge's account sees projects the mapping has no business writing to.
    ``linked_count_field`` (a Jira number field) or ``linked_count_label_prefix`` shows how many records
    are linked to the issue.

    When an item of a link is deleted or merged away the link is closed and never synced again.
    ``recreate_deleted``: when the *issue* was deleted, the record is escalated again as a new issue
    instead. ``follow_duplicate_of``: a ServiceNow record whose ``duplicate_of`` names another record is
    treated like an RT ticket merged into that one.

    ``on_route_exit``: what happens when a linked record stops matching the route. ``keep`` (the
    default): the link keeps syncing, the route decides what is escalated, not what keeps syncing.
    ``detach``: the change that took it out is still synced, then a note on both sides says "no longer
    synced" and why, and that record's link is closed (the issue stays linked to any other records).
    """

    itsm_key_field: str | None = "correlation_id"
    itsm_url_field: str | None = "correlation_display"
    remote_link: bool = True
    jira_label: str = "bridge"
    jira_marker_field: str | None = None
    link_existing: str | None = None
    link_existing_projects: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,254}$")]] | None = Field(
        default=None, examples=[["OPS", "SUPPORT"]]
    )
    linked_count_field: str | None = None
    linked_count_label_prefix: str | None = None
    recreate_deleted: bool = False
    follow_duplicate_of: bool = False
    on_route_exit: Literal["keep", "detach"] = "keep"


# ------------------------------------------------------------------------------------------ conflicts

ConflictPolicy = Literal["itsm_wins", "jira_wins", "newest_wins", "report"]


class ConflictRules(_Strict):
    """Who wins when both sides changed the same field since the last cycle (``report``: neither; an
    operator decides from the error list)."""

    default: ConflictPolicy = "report"
    fields: dict[str, ConflictPolicy] = Field(default_factory=dict)

    def policy(self, field: str) -> ConflictPolicy:
        return self.fields.get(field, self.default)


# --------------------------------------------------------------------------------------------- users


class UserPair(_Strict):
    """One explicit pair: the ITSM user (ServiceNow ``sys_user`` sys_id, RT login) and the Jira user
    (Cloud ``accountId``, Data Center user name)."""

    itsm: str = Field(min_length=1, examples=["6816f79cc0a8016401c5a33be04be441"])
    jira: str = Field(min_length=1, examples=["5b10a2844c20165700ede21g"])


class UserRules(_Strict):
    """How people are found on the other side, for field rules with ``user: true``.

    By e-mail (``match_by: email``: the ITSM user's address, searched in Jira) unless ``table`` names the
    pair; who cannot be found becomes ``fallback`` (its Jira user), or the field is left empty. Answers,
    found or not, are kept in the state store for ``cache_hours``.
    """

    match_by: Literal["email", "table"] = "email"
    table: list[UserPair] = Field(default_factory=list)
    fallback: UserPair | None = None
    cache_hours: float = Field(default=24.0, gt=0, le=24 * 30)


# ------------------------------------------------------------------------------------------- mapping


class Mapping(_Strict):
    """One mapping file."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", examples=["incident-to-bug"])
    enabled: bool = True
    description: str | None = None
    route: Route
    target: Target
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    notes_to_itsm: list[NoteRule] = Field(default_factory=list)
    status: StatusRules = Field(default_factory=StatusRules)
    comments: CommentRules = Field(default_factory=CommentRules)
    links: LinkRules = Field(default_factory=LinkRules)
    conflicts: ConflictRules = Field(default_factory=ConflictRules)
    attachments: AttachmentRules | None = None
    users: UserRules = Field(default_factory=UserRules)


AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()
Route.model_rebuild()
