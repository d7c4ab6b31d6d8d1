"""The simulated site: its records, the operations that change them, changelog and events.

Everything here is independent of HTTP: handlers parse a request, call a method, render the
result. Every change records a changelog entry where Jira does and publishes a :class:`SimEvent`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jirabridge.sim.clock import SimClock
from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.events import EventBus, SimEvent
from jirabridge.sim.model import (
    FIELD_EPIC_LINK,
    FIELD_EPIC_NAME,
    FIELD_RANK,
    FIELD_SPRINT,
    FIELD_STORY_POINTS,
    ISSUE_TYPES,
    PRIORITIES,
    STATUSES,
    TRANSITIONS,
    Board,
    ChangeGroup,
    ChangeItem,
    Flavor,
    Issue,
    IssueLink,
    IssueTypeDef,
    Project,
    Sprint,
    StatusDef,
    User,
    Worklog,
)

__all__ = ["LINK_TYPES", "SearchIndex", "SimSite"]

LINK_TYPES: tuple[tuple[str, str, str, str], ...] = (
    ("10000", "Blocks", "is blocked by", "blocks"),
    ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"),
    ("10003", "Relates", "relates to", "relates to"),
)

_TYPES_BY_ID = {t.id: t for t in ISSUE_TYPES}
_TYPES_BY_NAME = {t.name.lower(): t for t in ISSUE_TYPES}
_STATUS_BY_ID = {s.id: s for s in STATUSES}
_PRIORITY_NAMES = dict(PRIORITIES)


@dataclass
class SearchIndex:
    """What JQL search sees: the issues as they were ``lag`` seconds ago.

    With no lag the index holds the live issues; with a lag, writes queue snapshots that become
    visible when their time comes, as Jira's index catches up with its database.
    """

    lag_min: float = 0.0
    lag_max: float = 0.0
    visible: dict[int, Issue] = field(default_factory=dict)
    pending: list[tuple[float, int, Issue | None]] = field(default_factory=list)

    @property
    def lagging(self) -> bool:
        """Whether writes reach search later than the database."""
        return self.lag_max > 0


class SimSite:
    """One simulated Jira site (Cloud or Data Center) and its whole state."""

    def __init__(
        self,
        *,
        flavor: Flavor,
        base_url: str,
        cloud_id: str,
        clock: SimClock,
        bus: EventBus,
        seed: int,
    ) -> None:
        self.flavor: Flavor = flavor
        self.base_url = base_url.rstrip("/")
        self.cloud_id = cloud_id
        self.clock = clock
        self.bus = bus
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
        self.users: dict[str, User] = {}
        self.projects: dict[int, Project] = {}
        self.issues: dict[int, Issue] = {}
        self.keys: dict[str, int] = {}
        self.links: dict[int, IssueLink] = {}
        self.boards: dict[int, Board] = {}
        self.sprints: dict[int, Sprint] = {}
        self.deleted_worklogs: list[tuple[int, int]] = []
        self.worklog_index: dict[int, Worklog] = {}
        self.event_log: list[SimEvent] = []
        self.index = SearchIndex()
        self._counters: dict[str, int] = {}
        #: Authorization header -> principal, for the hot path; cleared when users change.
        self.auth_cache: dict[str, Any] = {}
        #: While true (seeding), changes publish no events.
        self.muted = False
        self.custom_fields: dict[str, tuple[str, str]] = {
            FIELD_EPIC_NAME: ("Epic Name", "string"),
            FIELD_EPIC_LINK: ("Epic Link", "any"),
            FIELD_STORY_POINTS: ("Story point estimate", "number"),
            FIELD_RANK: ("Rank", "any"),
            FIELD_SPRINT: ("Sprint", "array"),
        }
        bus.subscribe(self._log_event)

    # ----------------------------------------------------------------- helpers

    @property
    def is_cloud(self) -> bool:
        """Cloud flavour (accountIds, v3, parent field) rather than Data Center."""
        return self.flavor == "cloud"

    def now_ms(self) -> int:
        """The simulated time in epoch milliseconds."""
        return int(self.clock.time() * 1000)

    def next_id(self, kind: str, start: int = 10000) -> int:
        """The next id in the sequence ``kind`` (issues, comments... each count from 10000)."""
        value = self._counters.get(kind, start)
        self._counters[kind] = value + 1
        return value

    def _log_event(self, event: SimEvent) -> None:
        self.event_log.append(event)
        if len(self.event_log) > 10000:
            del self.event_log[:1000]

    def emit(
        self,
        name: str,
        payload: dict[str, Any],
        *,
        issue: Issue | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Publish one change on the bus with its webhook body."""
        if self.muted:
            return
        project_key = self.projects[issue.project_id].key if issue is not None else None
        self.bus.publish(
            SimEvent(
                name=name,
                payload=payload,
                timestamp_ms=int(payload.get("timestamp", self.now_ms())),
                project_key=project_key,
                issue_key=issue.key if issue is not None else None,
                meta=meta or {},
            )
        )

    # ----------------------------------------------------------------- users

    def add_user(self, user: User) -> User:
        """Register a user under its site identity."""
        self.auth_cache.clear()
        self.users[self.user_id(user)] = user
        return user

    def user_id(self, user: User) -> str:
        """The identity Jira uses on this flavour: accountId (Cloud) or key (Data Center)."""
        return user.account_id if self.is_cloud else user.key

    def get_user(self, uid: str | None) -> User | None:
        """The user with this identity, or None."""
        return self.users.get(uid) if uid is not None else None

    def find_user_ref(self, ref: Any, *, field_name: str) -> str | None:
        """Resolve ``{"accountId": ...}`` / ``{"name": ...}`` (or null) to an identity."""
        if ref is None:
            return None
        if not isinstance(ref, dict):
            raise SimHTTPError(400, errors={field_name: f"Specify a valid value for {field_name}"})
        if self.is_cloud:
            account_id = ref.get("accountId") or ref.get("id")
            if account_id is None:
                if "name" in ref:
                    raise SimHTTPError(
                        400,
                        errors={
                            field_name: "'name' is not supported: use 'accountId' "
                            "(GDPR strict mode)."
                        },
                    )
                return None
            if account_id == "-1":
                return None
            if account_id not in self.users:
                raise SimHTTPError(
                    400, errors={field_name: f"Specify a valid value for {field_name}"}
                )
            return str(account_id)
        for key in ("name", "key"):
            if key in ref:
                value = ref[key]
                if value is None or value == "":
                    return None
                for user in self.users.values():
                    if value in (user.name, user.key):
                        return user.key
                raise SimHTTPError(400, errors={field_name: f"User '{value}' does not exist."})
        # Data Center names users by name or key; an accountId alone names nobody.
        raise SimHTTPError(400, errors={field_name: "Specify the user by 'name' or 'key'."})

    def user_by_login(self, login: str) -> User | None:
        """Look a user up by email (Cloud basic auth) or username (Data Center)."""
        for user in self.users.values():
            if login in (user.email, user.name):
                return user
        return None

    # ----------------------------------------------------------------- lookup

    def issue_type(self, type_id: str) -> IssueTypeDef:
        """The issue type with this id."""
        return _TYPES_BY_ID[type_id]

    def status(self, status_id: str) -> StatusDef:
        """The status with this id."""
        return _STATUS_BY_ID[status_id]

    def project_by_ref(self, ref: str | int) -> Project:
        """A project by id or key, 404 in Jira's words when missing."""
        text = str(ref)
        if text.isdigit() and int(text) in self.projects:
            return self.projects[int(text)]
        for project in self.projects.values():
            if project.key == text.upper():
                return project
        raise SimHTTPError(404, [f"No project could be found with key '{text}'."])

    def get_issue(self, ref: str | int) -> Issue:
        """An issue by id or key, 404 with Jira's message when it does not exist."""
        text = str(ref)
        issue: Issue | None = None
        if text.isdigit():
            issue = self.issues.get(int(text))
        else:
            issue_id = self.keys.get(text.upper())
            issue = self.issues.get(issue_id) if issue_id is not None else None
        if issue is None:
            raise SimHTTPError(
                404, ["Issue does not exist or you do not have permission to see it."]
            )
        return issue

    def find_issue(self, ref: str | int) -> Issue | None:
        """An issue by id or key, or None."""
        try:
            return self.get_issue(ref)
        except SimHTTPError:
            return None

    def epic_of(self, issue: Issue) -> Issue | None:
        """The epic an issue belongs to (its parent, when that parent is an epic)."""
        if issue.parent_id is None:
            return None
        parent = self.issues.get(issue.parent_id)
        if parent is not None and parent.issuetype_id == "10000":
            return parent
        return None

    # ----------------------------------------------------------------- index

    def set_search_lag(self, lag_min: float, lag_max: float | None = None) -> None:
        """Make search see writes ``lag_min``..``lag_max`` seconds late (0 = consistent)."""
        hi = lag_min if lag_max is None else lag_max
        if lag_min < 0 or hi < lag_min:
            raise ValueError("search lag must satisfy 0 <= min <= max")
        was = self.index.lagging
        self.index.lag_min, self.index.lag_max = lag_min, hi
        if self.index.lagging and not was:
            self.index.visible = {i: _snapshot(x) for i, x in self.issues.items()}
        elif not self.index.lagging:
            self.index.pending.clear()
            self.index.visible = dict(self.issues)

    def reindex(self, issue: Issue, *, deleted: bool = False) -> None:
        """Tell the index that ``issue`` changed (or went away)."""
        if not self.index.lagging:
            if deleted:
                self.index.visible.pop(issue.id, None)
            else:
                self.index.visible[issue.id] = issue
            return
        delay = self.rng.uniform(self.index.lag_min, self.index.lag_max)
        snap = None if deleted else _snapshot(issue)
        self.index.pending.append((self.clock.time() + delay, issue.id, snap))

    def searchable(self) -> Iterable[Issue]:
        """The issues search sees now."""
        if self.index.pending:
            now = self.clock.time()
            still: list[tuple[float, int, Issue | None]] = []
            for due, issue_id, snap in self.index.pending:
                if due <= now:
                    if snap is None:
                        self.index.visible.pop(issue_id, None)
                    else:
                        self.index.visible[issue_id] = snap
                else:
                    still.append((due, issue_id, snap))
            self.index.pending = still
        return self.index.visible.values()

    # ----------------------------------------------------------------- changelog

    def record_change(self, issue: Issue, author: str, items: list[ChangeItem]) -> ChangeGroup:
        """Append a changelog entry, bump ``updated`` and reindex."""
        now = self.now_ms()
        group = ChangeGroup(self.next_id("changegroup"), author, now, items)
        issue.changelog.append(group)
        issue.updated_ms = now
        self.reindex(issue)
        return group

    def user_label(self, uid: str | None) -> str | None:
        """How changelogs name a user (display name)."""
        user = self.get_user(uid)
        return user.display_name if user is not None else None

    def sprint_label(self, ids: list[int]) -> str | None:
        """Sprint names as the changelog writes them (comma separated)."""
        if not ids:
            return None
        return ", ".join(self.sprints[i].name for i in ids if i in self.sprints)

    # ----------------------------------------------------------------- users' helpers

    def iter_issues_of_project(self, project_id: int) -> list[Issue]:
        """The project's issues in id order."""
        return [i for i in self.issues.values() if i.project_id == project_id]

    def link_type(self, ref: dict[str, Any]) -> tuple[str, str, str, str]:
        """A link type by id or name; 404 when unknown."""
        for lt in LINK_TYPES:
            if ref.get("id") == lt[0] or (ref.get("name") or "").lower() == lt[1].lower():
                return lt
        raise SimHTTPError(404, [f"No issue link type with name '{ref.get('name')}' found."])

    def issue_links_of(self, issue: Issue) -> list[IssueLink]:
        """Links where the issue is on either end."""
        return [
            link
            for link in self.links.values()
            if issue.id in (link.inward_issue_id, link.outward_issue_id)
        ]

    def priority_name(self, priority_id: str) -> str:
        """A priority's name."""
        return _PRIORITY_NAMES.get(priority_id, "Medium")

    def transition_ids(self, issue: Issue) -> list[str]:
        """Transitions available from the issue's status (every other status: global ones)."""
        return [t.id for t in TRANSITIONS if t.to_status != issue.status_id]

    # ----------------------------------------------------------------- persistence

    def clear(self) -> None:
        """Forget every record (users included)."""
        self.auth_cache.clear()
        self.users.clear()
        self.projects.clear()
        self.issues.clear()
        self.keys.clear()
        self.links.clear()
        self.boards.clear()
        self.sprints.clear()
        self.deleted_worklogs.clear()
        self.worklog_index.clear()
        self.event_log.clear()
        self.index.visible.clear()
        self.index.pending.clear()
        self._counters.clear()
        self.rng = random.Random(self.seed)  # noqa: S311 - reproducible data, not secrets

    def counters(self) -> dict[str, int]:
        """The id sequences (for saving state)."""
        return dict(self._counters)

    def restore_counters(self, counters: dict[str, int]) -> None:
        """Restore id sequences saved by :meth:`counters`."""
        self._counters = dict(counters)

    def rebuild_derived(self) -> None:
        """Rebuild key and worklog maps and the index after loading state."""
        self.keys = {i.key: i.id for i in self.issues.values()}
        self.worklog_index = {w.id: w for i in self.issues.values() for w in i.worklogs}
        self.index.pending.clear()
        self.index.visible = (
            {i: _snapshot(x) for i, x in self.issues.items()}
            if self.index.lagging
            else dict(self.issues)
        )


def _snapshot(issue: Issue) -> Issue:
    """A copy of the issue good enough for search (lists copied, big children shared)."""
    snap = copy.copy(issue)
    snap.labels = list(issue.labels)
    snap.component_ids = list(issue.component_ids)
    snap.sprint_ids = list(issue.sprint_ids)
    snap.custom = dict(issue.custom)
    snap.properties = dict(issue.properties)
    return snap
