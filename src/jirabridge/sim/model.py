"""The simulated site's records: plain dataclasses, serialisable to JSON for ``--state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FIELD_EPIC_LINK",
    "FIELD_EPIC_NAME",
    "FIELD_RANK",
    "FIELD_SPRINT",
    "FIELD_STORY_POINTS",
    "ISSUE_TYPES",
    "PRIORITIES",
    "STATUSES",
    "TRANSITIONS",
    "Board",
    "ChangeGroup",
    "ChangeItem",
    "Comment",
    "Flavor",
    "Issue",
    "IssueLink",
    "IssueTypeDef",
    "Project",
    "RemoteLink",
    "Sprint",
    "StatusDef",
    "TransitionDef",
    "User",
    "Worklog",
]

Flavor = Literal["cloud", "datacenter"]

# Custom field ids as a fresh Jira Software Cloud site numbers them; the DC flavour uses the same
# ids so one client configuration works against both.
FIELD_EPIC_NAME = "customfield_10011"
FIELD_EPIC_LINK = "customfield_10014"
FIELD_STORY_POINTS = "customfield_10016"
FIELD_RANK = "customfield_10019"
FIELD_SPRINT = "customfield_10020"


@dataclass(frozen=True)
class IssueTypeDef:
    """An issue type; ``hierarchy_level`` 1 = epic, 0 = standard, -1 = sub-task."""

    id: str
    name: str
    description: str
    hierarchy_level: int
    avatar_id: int

    @property
    def subtask(self) -> bool:
        """Whether this is a sub-task type."""
        return self.hierarchy_level < 0


ISSUE_TYPES: tuple[IssueTypeDef, ...] = (
    IssueTypeDef("10000", "Epic", "A big user story that needs to be broken down.", 1, 10307),
    IssueTypeDef(
        "10001", "Story", "Functionality or a feature expressed as a user goal.", 0, 10315
    ),
    IssueTypeDef("10002", "Task", "A small, distinct piece of work.", 0, 10318),
    IssueTypeDef("10003", "Bug", "A problem or error.", 0, 10303),
    IssueTypeDef(
        "10004", "Sub-task", "A small piece of work that's part of a larger task.", -1, 10316
    ),
)


@dataclass(frozen=True)
class StatusDef:
    """A status and its category (``new``, ``indeterminate``, ``done``)."""

    id: str
    name: str
    category_key: str


STATUSES: tuple[StatusDef, ...] = (
    StatusDef("10000", "To Do", "new"),
    StatusDef("10001", "In Progress", "indeterminate"),
    StatusDef("10002", "Done", "done"),
)


@dataclass(frozen=True)
class TransitionDef:
    """A global transition of the one simulated workflow (available from every other status)."""

    id: str
    name: str
    to_status: str


TRANSITIONS: tuple[TransitionDef, ...] = (
    TransitionDef("11", "To Do", "10000"),
    TransitionDef("21", "In Progress", "10001"),
    TransitionDef("31", "Done", "10002"),
)

PRIORITIES: tuple[tuple[str, str], ...] = (
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
)


@dataclass
class User:
    """A user. ``account_id`` is the identity on Cloud; ``name``/``key`` on Data Center."""

    account_id: str
    name: str
    key: str
    email: str
    display_name: str
    api_token: str
    password: str
    pats: list[str] = field(default_factory=list)
    active: bool = True
    time_zone: str = "UTC"
    admin: bool = False


@dataclass
class Project:
    """A software project; ``next_number`` is the next issue number for its keys."""

    id: int
    key: str
    name: str
    lead: str
    next_number: int = 1
    #: The project's components: id -> name.
    components: dict[str, str] = field(default_factory=dict)


@dataclass
class ChangeItem:
    """One changed field in a changelog entry (Jira's ``ChangeDetails``)."""

    field: str
    fieldtype: str
    field_id: str
    from_value: str | None
    from_string: str | None
    to_value: str | None
    to_string: str | None


@dataclass
class ChangeGroup:
    """One changelog entry: who, when, which fields."""

    id: int
    author: str
    created_ms: int
    items: list[ChangeItem]


@dataclass
class Comment:
    """A comment; ``body`` is kept as ADF and rendered as text on v2."""

    id: int
    issue_id: int
    author: str
    update_author: str
    body: dict[str, Any]
    created_ms: int
    updated_ms: int
    visibility: dict[str, Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Worklog:
    """A worklog; ``properties`` are its entity properties (key -> JSON value)."""

    id: int
    issue_id: int
    author: str
    update_author: str
    comment: dict[str, Any] | None
    created_ms: int
    updated_ms: int
    started_ms: int
    time_spent_seconds: int
    visibility: dict[str, Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class IssueLink:
    """A link between two issues (type is one of the site's link types)."""

    id: int
    type_id: str
    inward_issue_id: int
    outward_issue_id: int


@dataclass
class RemoteLink:
    """A remote (web) link on an issue, stored as the client sent it."""

    id: int
    issue_id: int
    global_id: str | None
    application: dict[str, Any] | None
    relationship: str | None
    object: dict[str, Any]


@dataclass
class Issue:
    """An issue, its fields as plain values, and everything hanging off it."""

    id: int
    key: str
    project_id: int
    issuetype_id: str
    summary: str
    status_id: str
    reporter: str | None
    creator: str | None
    created_ms: int
    updated_ms: int
    status_changed_ms: int
    priority_id: str = "3"
    description: dict[str, Any] | None = None
    assignee: str | None = None
    labels: list[str] = field(default_factory=list)
    component_ids: list[str] = field(default_factory=list)
    parent_id: int | None = None
    epic_name: str | None = None
    story_points: float | None = None
    sprint_ids: list[int] = field(default_factory=list)
    rank: str = ""
    resolution_ms: int | None = None
    duedate: str | None = None
    original_estimate: int | None = None
    remaining_estimate: int | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    changelog: list[ChangeGroup] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    worklogs: list[Worklog] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    remote_links: list[RemoteLink] = field(default_factory=list)

    @property
    def time_spent(self) -> int:
        """Sum of the worklogs, in seconds."""
        return sum(w.time_spent_seconds for w in self.worklogs)


@dataclass
class Board:
    """A scrum board over one project."""

    id: int
    name: str
    project_id: int
    type: str = "scrum"


@dataclass
class Sprint:
    """A sprint: ``future``, ``active`` or ``closed``."""

    id: int
    name: str
    board_id: int
    state: str
    created_ms: int
    start_ms: int | None = None
    end_ms: int | None = None
    complete_ms: int | None = None
    goal: str = ""
