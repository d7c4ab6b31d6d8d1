"""An issue's past rebuilt from its changelog: sprint membership, status and points over time.

Jira keeps only the current value of a field plus a changelog of ``from -> to`` changes. The
value at any past instant is the ``from`` of the first change after that instant, or the
current value when nothing changed since. Nothing here does I/O: the input is an issue as the
REST API returns it (``fields`` plus ``changelog.histories``), already fetched.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from jirabridge.errors import ValidationError
from jirabridge.jira.dates import parse_jira_datetime

__all__ = [
    "DEFAULT_POINTS_FIELD",
    "DEFAULT_SPRINT_FIELD",
    "FieldIds",
    "IssueHistory",
    "StatusCategory",
    "Timeline",
    "detect_field_ids",
    "parse_issue_history",
    "status_categories_from",
]

T = TypeVar("T")

#: Jira Cloud's "Story point estimate" on team-managed and most company-managed sites.
DEFAULT_POINTS_FIELD = "customfield_10016"
#: Jira Software's Sprint field on Cloud; Data Center sites often differ (see the field list).
DEFAULT_SPRINT_FIELD = "customfield_10020"

StatusCategory = Literal["new", "indeterminate", "done"]


@dataclass(frozen=True)
class FieldIds:
    """Which custom fields hold story points and sprints on this site."""

    points: str = DEFAULT_POINTS_FIELD
    sprint: str = DEFAULT_SPRINT_FIELD


@dataclass(frozen=True)
class Timeline(Generic[T]):
    """A value over time: ``initial`` until the first change, then each change's value.

    ``changes`` is sorted by time. A change at exactly ``t`` is in effect at ``t``.
    """

    initial: T
    changes: tuple[tuple[datetime, T], ...] = ()

    def at(self, when: datetime) -> T:
        """The value in effect at ``when``."""
        index = bisect.bisect_right([c[0] for c in self.changes], when)
        return self.initial if index == 0 else self.changes[index - 1][1]

    def change_times(self) -> list[datetime]:
        """Every instant the value changed."""
        return [c[0] for c in self.changes]


@dataclass(frozen=True)
class IssueHistory:
    """What the reports need to know about one issue, over its whole life."""

    key: str
    summary: str
    issue_type: str
    created: datetime
    sprints: Timeline[frozenset[int]]
    status: Timeline[str]
    points: Timeline[float | None]
    #: status id -> category, for every status this issue has been in.
    categories: Mapping[str, StatusCategory] = field(default_factory=dict)

    def exists(self, when: datetime) -> bool:
        """True once the issue was created."""
        return when >= self.created

    def in_sprint(self, sprint_id: int, when: datetime) -> bool:
        """Was the issue in ``sprint_id`` at ``when``?"""
        return self.exists(when) and sprint_id in self.sprints.at(when)

    def category(self, when: datetime) -> StatusCategory:
        """The status category at ``when`` (unknown statuses count as not started)."""
        return self.categories.get(self.status.at(when), "new")

    def done(self, when: datetime) -> bool:
        """Was the issue in a done-category status at ``when``?"""
        return self.exists(when) and self.category(when) == "done"

    def points_at(self, when: datetime) -> float:
        """Story points at ``when``; an unestimated issue counts as 0."""
        value = self.points.at(when)
        return value if value is not None else 0.0


def _parse_points(text: Any) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValidationError(f"story points value {text!r} is not a number") from None


def _parse_sprint_ids(text: Any) -> frozenset[int]:
    # The changelog writes sprint ids as "12, 13"; the current field is a list of objects.
    if text is None or text == "":
        return frozenset()
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if part:
            try:
                out.add(int(part))
            except ValueError:
                raise ValidationError(
                    f"sprint id {part!r} in a changelog is not a number"
                ) from None
    return frozenset(out)


def _current_sprints(value: Any) -> frozenset[int]:
    if not value:
        return frozenset()
    out: set[int] = set()
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, Mapping) and "id" in item:
            out.add(int(item["id"]))
        elif isinstance(item, int | str) and str(item).isdigit():
            out.add(int(item))
    return frozenset(out)


def _timeline(
    current: T,
    changes: Sequence[tuple[datetime, Any, Any]],
    convert: Callable[[Any], T],
) -> Timeline[T]:
    """Build a timeline from the current value and ``(when, from, to)`` changes."""
    if not changes:
        return Timeline(current)
    ordered = sorted(changes, key=lambda c: c[0])
    initial = convert(ordered[0][1])
    return Timeline(initial, tuple((when, convert(to)) for when, _, to in ordered))


def _status_category(status: Mapping[str, Any]) -> StatusCategory | None:
    category = status.get("statusCategory")
    key = category.get("key") if isinstance(category, Mapping) else None
    return key if key in ("new", "indeterminate", "done") else None


def parse_issue_history(
    raw: Mapping[str, Any],
    *,
    field_ids: FieldIds = FieldIds(),
    status_categories: Mapping[str, StatusCategory] | None = None,
) -> IssueHistory:
    """Rebuild an issue's history from its REST representation with ``expand=changelog``.

    ``status_categories`` maps status ids to categories (from ``GET /status``); the issue's
    own current status fills in when the map lacks it. The changelog must be complete: callers
    fetch the remaining pages when ``changelog.total`` exceeds what search returned.
    """
    try:
        key = str(raw["key"])
        fields: Mapping[str, Any] = raw.get("fields") or {}
        created = parse_jira_datetime(str(fields["created"]))
    except KeyError as exc:
        raise ValidationError(f"issue data lacks {exc.args[0]!r}") from None
    status_field = fields.get("status") or {}
    current_status = str(status_field.get("id", ""))
    categories: dict[str, StatusCategory] = dict(status_categories or {})
    own = _status_category(status_field)
    if own is not None:
        categories.setdefault(current_status, own)

    sprint_changes: list[tuple[datetime, Any, Any]] = []
    status_changes: list[tuple[datetime, Any, Any]] = []
    points_changes: list[tuple[datetime, Any, Any]] = []
    changelog = raw.get("changelog") or {}
    for group in changelog.get("histories") or []:
        when = parse_jira_datetime(str(group["created"]))
        for item in group.get("items") or []:
            field_id = item.get("fieldId")
            name = str(item.get("field", "")).lower()
            change = (when, item.get("from"), item.get("to"))
            if field_id == field_ids.sprint or (field_id is None and name == "sprint"):
                sprint_changes.append(change)
            elif field_id == "status" or (field_id is None and name == "status"):
                status_changes.append(change)
            elif field_id == field_ids.points:
                # Points travel in fromString/toString; from/to are empty for number fields.
                points_changes.append((when, item.get("fromString"), item.get("toString")))

    issue_type = fields.get("issuetype") or {}
    return IssueHistory(
        key=key,
        summary=str(fields.get("summary") or ""),
        issue_type=str(issue_type.get("name") or ""),
        created=created,
        sprints=_timeline(
            _current_sprints(fields.get(field_ids.sprint)), sprint_changes, _parse_sprint_ids
        ),
        status=_timeline(current_status, status_changes, lambda v: "" if v is None else str(v)),
        points=_timeline(
            _parse_points(fields.get(field_ids.points)), points_changes, _parse_points
        ),
        categories=categories,
    )


_POINTS_NAMES = ("story point estimate", "story points")


def detect_field_ids(fields: Iterable[Mapping[str, Any]]) -> FieldIds:
    """Find the story-points and sprint fields in ``GET /field`` (defaults when absent).

    Sites name points "Story point estimate" (Cloud) or "Story Points" (older and DC); the
    sprint field is the one with Jira Software's ``gh-sprint`` schema.
    """
    points = sprint = None
    for item in fields:
        name = str(item.get("name", "")).strip().lower()
        schema = item.get("schema") or {}
        custom = str(schema.get("custom", "")) if isinstance(schema, Mapping) else ""
        if custom.endswith(":gh-sprint") and sprint is None:
            sprint = str(item["id"])
        elif name in _POINTS_NAMES and (points is None or name == _POINTS_NAMES[0]):
            # "Story point estimate" wins over a legacy "Story Points" when a site has both.
            points = str(item["id"])
    return FieldIds(points=points or DEFAULT_POINTS_FIELD, sprint=sprint or DEFAULT_SPRINT_FIELD)


def status_categories_from(statuses: Iterable[Mapping[str, Any]]) -> dict[str, StatusCategory]:
    """``GET /rest/api/{v}/status`` -> status id -> category."""
    out: dict[str, StatusCategory] = {}
    for status in statuses:
        category = _status_category(status)
        if category is not None and "id" in status:
            out[str(status["id"])] = category
    return out
