"""Typed views of Jira's REST resources (platform v2/v3 and Agile 1.0).

Every model keeps unknown keys (``extra="allow"``): Jira adds fields often, and a sync tool must
never drop data it does not understand. Attribute names are snake_case; the wire names are
Jira's camelCase (``account_id`` <-> ``accountId``). Datetimes are parsed from Jira's forms into
tz-aware :class:`~datetime.datetime` values.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from jirabridge.jira.dates import format_jira_datetime, from_epoch_ms, parse_jira_datetime

__all__ = [
    "Board",
    "BulkCreateItem",
    "ChangeItem",
    "ChangelogEntry",
    "Comment",
    "CreateMetaField",
    "CreatedIssue",
    "DeploymentType",
    "EntityProperty",
    "Epic",
    "FieldDefinition",
    "Issue",
    "IssueType",
    "JiraDateTime",
    "JiraModel",
    "Project",
    "RemoteLink",
    "ServerInfo",
    "Sprint",
    "Status",
    "StatusCategory",
    "Transition",
    "User",
    "Webhook",
    "WebhookRegistration",
    "Worklog",
    "WorklogChange",
]


def _to_datetime(value: Any) -> Any:
    if isinstance(value, str):
        return parse_jira_datetime(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return from_epoch_ms(value)
    return value


#: A datetime read from any of Jira's forms and written back as ``2026-11-20T09:00:00.000+0000``.
JiraDateTime = Annotated[
    datetime,
    BeforeValidator(_to_datetime),
    PlainSerializer(format_jira_datetime, return_type=str, when_used="json"),
]


class JiraModel(BaseModel):
    """Base of every Jira model: camelCase on the wire, unknown keys kept."""

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, alias_generator=to_camel, frozen=False
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict in Jira's own key names (unknown keys included)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DeploymentType(StrEnum):
    """Where a Jira instance runs; decides REST v3 (Cloud) or v2 (Server/Data Center)."""

    CLOUD = "Cloud"
    SERVER = "Server"
    DATA_CENTER = "DataCenter"


class ServerInfo(JiraModel):
    """``GET /serverInfo``."""

    base_url: str | None = None
    version: str | None = None
    version_numbers: list[int] = []
    deployment_type: str | None = None
    build_number: int | None = None
    server_title: str | None = None
    server_time: JiraDateTime | None = None

    @property
    def is_cloud(self) -> bool:
        """True for Jira Cloud. Server and Data Center answer ``Server``/``DataCenter``."""
        return self.deployment_type == DeploymentType.CLOUD


class User(JiraModel):
    """A Jira user: ``account_id`` on Cloud; ``name`` and ``key`` on Server/Data Center."""

    account_id: str | None = None
    name: str | None = None
    key: str | None = None
    display_name: str | None = None
    email_address: str | None = None
    active: bool | None = None
    time_zone: str | None = None
    account_type: str | None = None

    @property
    def identity(self) -> str:
        """The id Jira uses to refer to this user on this deployment (accountId or name)."""
        return self.account_id or self.name or self.key or ""

    def reference(self) -> dict[str, str]:
        """The body fragment naming this user: ``{"accountId": ..}`` or ``{"name": ..}``."""
        if self.account_id:
            return {"accountId": self.account_id}
        if self.name:
            return {"name": self.name}
        return {"key": self.key or ""}


class StatusCategory(JiraModel):
    """To Do / In Progress / Done, the category every status belongs to."""

    id: int | None = None
    key: str | None = None
    name: str | None = None
    color_name: str | None = None


class Status(JiraModel):
    """An issue status."""

    id: str
    name: str
    description: str | None = None
    status_category: StatusCategory | None = None


class IssueType(JiraModel):
    """An issue type (Story, Bug, Epic, Sub-task...)."""

    id: str
    name: str
    description: str | None = None
    subtask: bool = False
    hierarchy_level: int | None = None


class Project(JiraModel):
    """A project."""

    id: str
    key: str
    name: str
    project_type_key: str | None = None
    simplified: bool | None = None
    style: str | None = None
    issue_types: list[IssueType] = []


class FieldDefinition(JiraModel):
    """A field definition from ``GET /field``."""

    id: str
    name: str
    key: str | None = None
    custom: bool = False
    field_schema: dict[str, Any] | None = Field(default=None, alias="schema")


class CreateMetaField(JiraModel):
    """One field of a project/issue-type create screen (createmeta)."""

    field_id: str
    key: str | None = None
    name: str
    required: bool = False
    field_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    allowed_values: list[dict[str, Any]] | None = None
    has_default_value: bool | None = None
    default_value: Any = None
    operations: list[str] = []
    auto_complete_url: str | None = None


class Transition(JiraModel):
    """A workflow transition available on an issue."""

    id: str
    name: str
    to: Status | None = None
    has_screen: bool | None = None
    is_available: bool | None = None
    fields: dict[str, Any] = {}


class EntityProperty(JiraModel):
    """A key/value property stored on an issue, worklog, comment..."""

    key: str
    value: Any = None


class Comment(JiraModel):
    """An issue comment. ``body`` is ADF (a dict) on REST v3 and a string on v2."""

    id: str | None = None
    body: Any = None
    author: User | None = None
    update_author: User | None = None
    created: JiraDateTime | None = None
    updated: JiraDateTime | None = None
    visibility: dict[str, Any] | None = None
    properties: list[EntityProperty] = []


class Worklog(JiraModel):
    """Time logged on an issue. ``comment`` is ADF on v3, a string on v2."""

    id: str | None = None
    issue_id: str | None = None
    author: User | None = None
    update_author: User | None = None
    started: JiraDateTime | None = None
    time_spent: str | None = None
    time_spent_seconds: int | None = None
    comment: Any = None
    created: JiraDateTime | None = None
    updated: JiraDateTime | None = None
    visibility: dict[str, Any] | None = None
    properties: list[EntityProperty] = []

    def get_property(self, key: str) -> Any:
        """The value of the worklog property ``key``, or None (needs ``expand=properties``)."""
        for prop in self.properties:
            if prop.key == key:
                return prop.value
        return None


class WorklogChange(JiraModel):
    """An entry of ``/worklog/updated`` or ``/worklog/deleted``."""

    worklog_id: int
    updated_time: int
    properties: list[EntityProperty] = []


class ChangeItem(JiraModel):
    """One field change inside a changelog entry."""

    field: str | None = None
    fieldtype: str | None = None
    field_id: str | None = None
    from_: str | None = Field(default=None, alias="from")
    from_string: str | None = None
    to: str | None = None
    to_string: str | None = None


class ChangelogEntry(JiraModel):
    """One history entry of an issue: who changed what, when."""

    id: str
    author: User | None = None
    created: JiraDateTime | None = None
    items: list[ChangeItem] = []


def _custom_field_ids(fields: dict[str, Any]) -> list[str]:
    return [name for name in fields if name.startswith("customfield_")]


class Issue(JiraModel):
    """An issue. ``fields`` is kept raw, so custom fields survive untouched.

    Typed accessors cover the standard fields; everything else is ``issue.fields[field_id]``
    or :meth:`custom`.
    """

    id: str
    key: str
    self_url: str | None = Field(
        default=None, validation_alias=AliasChoices("self", "self_url"), serialization_alias="self"
    )
    fields: dict[str, Any] = {}
    changelog: dict[str, Any] | None = None
    rendered_fields: dict[str, Any] | None = None
    names: dict[str, str] | None = None
    properties: dict[str, Any] | None = None

    @property
    def summary(self) -> str | None:
        """The summary field."""
        value = self.fields.get("summary")
        return value if isinstance(value, str) else None

    @property
    def description(self) -> Any:
        """ADF dict on v3, string on v2."""
        return self.fields.get("description")

    @property
    def status(self) -> Status | None:
        """The current status."""
        raw = self.fields.get("status")
        return Status.model_validate(raw) if isinstance(raw, dict) else None

    @property
    def issue_type(self) -> IssueType | None:
        """The issue type."""
        raw = self.fields.get("issuetype")
        return IssueType.model_validate(raw) if isinstance(raw, dict) else None

    @property
    def project_key(self) -> str | None:
        """The key of the project holding the issue."""
        raw = self.fields.get("project")
        if isinstance(raw, dict):
            key = raw.get("key")
            return key if isinstance(key, str) else None
        return self.key.rsplit("-", 1)[0] if "-" in self.key else None

    @property
    def assignee(self) -> User | None:
        """The assignee, or None when unassigned."""
        raw = self.fields.get("assignee")
        return User.model_validate(raw) if isinstance(raw, dict) else None

    @property
    def labels(self) -> list[str]:
        """The labels."""
        raw = self.fields.get("labels")
        return [str(x) for x in raw] if isinstance(raw, list) else []

    @property
    def parent_key(self) -> str | None:
        """The key of the parent (epic or issue), when the issue has one."""
        raw = self.fields.get("parent")
        if isinstance(raw, dict):
            key = raw.get("key")
            return key if isinstance(key, str) else None
        return None

    @property
    def created(self) -> datetime | None:
        """When the issue was created."""
        raw = self.fields.get("created")
        return parse_jira_datetime(raw) if isinstance(raw, str) else None

    @property
    def updated(self) -> datetime | None:
        """When the issue was last updated."""
        raw = self.fields.get("updated")
        return parse_jira_datetime(raw) if isinstance(raw, str) else None

    @property
    def custom_fields(self) -> dict[str, Any]:
        """Every ``customfield_*`` value, raw."""
        return {name: self.fields[name] for name in _custom_field_ids(self.fields)}

    def custom(self, field_id: str) -> Any:
        """The raw value of a field by id (``customfield_10011``), or None."""
        return self.fields.get(field_id)

    def history(self) -> list[ChangelogEntry]:
        """The changelog entries, when fetched with ``expand=changelog``."""
        if not self.changelog:
            return []
        return [ChangelogEntry.model_validate(x) for x in self.changelog.get("histories", [])]


class CreatedIssue(JiraModel):
    """The answer to an issue create: its id and key."""

    id: str
    key: str
    self_url: str | None = Field(
        default=None, validation_alias=AliasChoices("self", "self_url"), serialization_alias="self"
    )


class BulkCreateItem(BaseModel):
    """The outcome of one input of a bulk create, at the input's position."""

    model_config = ConfigDict(frozen=True)

    index: int
    issue: CreatedIssue | None = None
    status: int | None = None
    error_messages: list[str] = []
    field_errors: dict[str, str] = {}
    #: Sent, but neither an answer nor the look-up after it says whether Jira applied it:
    #: never send it again without looking first (its ledger entry stays ``sent``).
    unknown: bool = False

    @property
    def ok(self) -> bool:
        """True when this input was created."""
        return self.issue is not None


class RemoteLink(JiraModel):
    """A remote (web) link on an issue."""

    id: int | None = None
    global_id: str | None = None
    relationship: str | None = None
    object: dict[str, Any] = {}


class Sprint(JiraModel):
    """An Agile sprint."""

    id: int
    name: str
    state: str | None = None
    start_date: JiraDateTime | None = None
    end_date: JiraDateTime | None = None
    complete_date: JiraDateTime | None = None
    origin_board_id: int | None = None
    goal: str | None = None


class Board(JiraModel):
    """An Agile board (scrum or kanban)."""

    id: int
    name: str
    type: str | None = None
    location: dict[str, Any] | None = None


class Epic(JiraModel):
    """An epic as the Agile API describes it."""

    id: int
    key: str | None = None
    name: str | None = None
    summary: str | None = None
    done: bool | None = None


class Webhook(JiraModel):
    """A dynamic webhook registered by this app (``GET /webhook``)."""

    id: int
    jql_filter: str
    events: list[str]
    url: str | None = None
    expiration_date: JiraDateTime | None = None
    field_ids_filter: list[str] | None = None
    issue_property_keys_filter: list[str] | None = None


class WebhookRegistration(JiraModel):
    """One result of ``POST /webhook``: an id, or the errors that stopped it."""

    created_webhook_id: int | None = None
    errors: list[str] = []
