"""The report engine: every sprint-report number from sprint dates and issue histories.

Pure functions over :class:`~jirabridge.sync.reports.history.IssueHistory`; no I/O, no clock
(``as_of`` is passed in). The definitions are written down in ``docs/reports.md``; the tests in
``tests/reports/`` check them against numbers computed by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from jirabridge.errors import ValidationError
from jirabridge.sync.reports.history import IssueHistory, Timeline

__all__ = [
    "BurndownPoint",
    "CarriedIssue",
    "CycleTime",
    "CycleTimeReport",
    "IssueLine",
    "SprintInfo",
    "SprintReport",
    "VelocityEntry",
    "VelocityReport",
    "cycle_time",
    "cycle_time_report",
    "percentile",
    "sprint_report",
    "velocity_report",
]

SprintState = Literal["future", "active", "closed"]
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class SprintInfo:
    """A sprint's identity and dates, as the Agile API gives them (tz-aware)."""

    id: int
    name: str
    state: SprintState
    start: datetime
    end: datetime
    complete: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "complete"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValidationError(f"sprint {self.id} {name} date has no time zone")
        if self.end < self.start:
            raise ValidationError(f"sprint {self.id} ends before it starts")

    def report_end(self, as_of: datetime) -> datetime:
        """The instant the report measures "at the end": completion, or now for an open sprint."""
        if self.state == "closed":
            return self.complete or self.end
        return min(max(as_of, self.start), self.complete or as_of)


@dataclass(frozen=True)
class IssueLine:
    """One issue in a report list, with the points that list counts for it."""

    key: str
    summary: str
    points: float


@dataclass(frozen=True)
class CarriedIssue:
    """An issue not completed in its sprint, and where it went next (None: the backlog)."""

    key: str
    summary: str
    points: float
    to_sprint: int | None


@dataclass(frozen=True)
class BurndownPoint:
    """Sprint scope and progress at one instant (the sprint start, or the end of a day)."""

    label: str
    day: date
    at: datetime
    scope_points: float
    completed_points: float
    remaining_points: float
    scope_issues: int
    completed_issues: int
    remaining_issues: int
    ideal_points: float


@dataclass(frozen=True)
class SprintReport:
    """Everything about one sprint. See docs/reports.md for each definition."""

    sprint: SprintInfo
    measured_at: datetime
    committed: list[IssueLine]
    added: list[IssueLine]
    removed: list[IssueLine]
    completed: list[IssueLine]
    not_completed: list[IssueLine]
    carried_over: list[CarriedIssue]
    committed_points: float
    added_points: float
    removed_points: float
    estimate_change_points: float
    completed_points: float
    not_completed_points: float
    burndown: list[BurndownPoint] = field(default_factory=list)

    @property
    def final_scope_points(self) -> float:
        """Committed + added - removed + re-estimates (= completed + not completed)."""
        return self.completed_points + self.not_completed_points


def _before(timeline: Timeline[frozenset[int]], when: datetime) -> frozenset[int]:
    return timeline.at(when - _TINY)


def _member(issue: IssueHistory, sprint_id: int, when: datetime) -> bool:
    return issue.in_sprint(sprint_id, when)


def _membership_events(
    issue: IssueHistory, sprint_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, bool]]:
    """Entries (True) and exits (False) of the sprint in (start, end]."""
    times = sorted({t for t in issue.sprints.change_times() if start < t <= end})
    if start < issue.created <= end:
        times = sorted({*times, issue.created})
    events: list[tuple[datetime, bool]] = []
    for t in times:
        was = issue.exists(t - _TINY) and sprint_id in _before(issue.sprints, t)
        now = _member(issue, sprint_id, t)
        if was != now:
            events.append((t, now))
    return events


def _points_before(issue: IssueHistory, when: datetime) -> float:
    value = issue.points.at(when - _TINY)
    return value if value is not None else 0.0


def _carried_to(issue: IssueHistory, sprint_id: int, start: datetime, end: datetime) -> int | None:
    # Jira may put an unfinished issue in the next sprint before or after this one closes:
    # the next sprint is the first one it joined after this sprint started, other than this one.
    before = issue.sprints.at(start)
    joined = issue.sprints.at(end) - before - {sprint_id}
    if joined:
        return min(joined)
    previous = issue.sprints.at(end)
    for when, ids in issue.sprints.changes:
        if when <= end:
            continue
        new = ids - previous - {sprint_id}
        if new:
            return min(new)
        previous = ids
    return None


def _local_days(start: datetime, last: datetime, zone: tzinfo) -> list[date]:
    first_day = start.astimezone(zone).date()
    last_day = last.astimezone(zone).date()
    return [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]


def _end_of_day(day: date, zone: tzinfo) -> datetime:
    # The last instant of the local day; a change at the next midnight belongs to the next day.
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone) - _TINY


def _snapshot(
    issues: Sequence[IssueHistory], sprint_id: int, when: datetime
) -> tuple[float, float, int, int]:
    scope = done = 0.0
    scope_n = done_n = 0
    for issue in issues:
        if _member(issue, sprint_id, when):
            scope += issue.points_at(when)
            scope_n += 1
            if issue.done(when):
                done += issue.points_at(when)
                done_n += 1
    return scope, done, scope_n, done_n


def _ideal(committed: float, sprint: SprintInfo, when: datetime) -> float:
    length = (sprint.end - sprint.start).total_seconds()
    if length <= 0:
        return 0.0
    elapsed = min(max((when - sprint.start).total_seconds(), 0.0), length)
    return round(committed * (1 - elapsed / length), 4)


def _burndown(
    issues: Sequence[IssueHistory],
    sprint: SprintInfo,
    measured_at: datetime,
    committed_points: float,
    zone: tzinfo,
) -> list[BurndownPoint]:
    samples: list[tuple[str, datetime]] = [("start", sprint.start)]
    last = max(sprint.end, measured_at)
    for day in _local_days(sprint.start, last, zone):
        day_start = datetime.combine(day, time(0), tzinfo=zone)
        if day_start > measured_at:
            break
        samples.append((day.isoformat(), min(_end_of_day(day, zone), measured_at)))
    points: list[BurndownPoint] = []
    for label, when in samples:
        scope, done, scope_n, done_n = _snapshot(issues, sprint.id, when)
        points.append(
            BurndownPoint(
                label=label,
                day=when.astimezone(zone).date(),
                at=when,
                scope_points=scope,
                completed_points=done,
                remaining_points=scope - done,
                scope_issues=scope_n,
                completed_issues=done_n,
                remaining_issues=scope_n - done_n,
                ideal_points=_ideal(committed_points, sprint, when),
            )
        )
    return points


def sprint_report(
    sprint: SprintInfo,
    issues: Iterable[IssueHistory],
    *,
    as_of: datetime,
    zone: tzinfo,
) -> SprintReport:
    """The report of one sprint from the histories of every issue that may have touched it.

    Issues that were never in the sprint are ignored, so passing a superset is fine.
    ``zone`` sets where a day begins for the burndown; totals do not depend on it.
    """
    if as_of.tzinfo is None:
        raise ValidationError("as_of needs a time zone")
    relevant = [
        i
        for i in issues
        if sprint.id in i.sprints.initial or any(sprint.id in ids for _, ids in i.sprints.changes)
    ]
    relevant.sort(key=lambda i: (i.created, i.key))
    start, end = sprint.start, sprint.report_end(as_of)
    committed: list[IssueLine] = []
    added: list[IssueLine] = []
    removed: list[IssueLine] = []
    completed: list[IssueLine] = []
    not_completed: list[IssueLine] = []
    carried: list[CarriedIssue] = []
    added_points = removed_points = change_points = 0.0
    for issue in relevant:
        if _member(issue, sprint.id, start):
            committed.append(IssueLine(issue.key, issue.summary, issue.points_at(start)))
        entered = exited = False
        for when, entry in _membership_events(issue, sprint.id, start, end):
            if entry:
                added_points += issue.points_at(when)
                entered = True
            else:
                removed_points += _points_before(issue, when)
                exited = True
        if entered:
            added.append(
                IssueLine(issue.key, issue.summary, _first_entry_points(issue, sprint, end))
            )
        # Several changes at one instant (Jira logs each edit) are one step from the value
        # before to the value after: count each instant once.
        for when in sorted(set(issue.points.change_times())):
            # Only re-estimates while the issue stays in the sprint change its scope.
            if (
                start < when <= end
                and _member(issue, sprint.id, when)
                and issue.exists(when - _TINY)
                and sprint.id in _before(issue.sprints, when)
            ):
                change_points += issue.points_at(when) - _points_before(issue, when)
        in_at_end = _member(issue, sprint.id, end)
        if exited and not in_at_end:
            removed.append(
                IssueLine(issue.key, issue.summary, _last_exit_points(issue, sprint, end))
            )
        if in_at_end:
            line = IssueLine(issue.key, issue.summary, issue.points_at(end))
            if issue.done(end):
                completed.append(line)
            else:
                not_completed.append(line)
                if sprint.state == "closed":
                    carried.append(
                        CarriedIssue(
                            line.key,
                            line.summary,
                            line.points,
                            _carried_to(issue, sprint.id, start, end),
                        )
                    )
    committed_points = sum(line.points for line in committed)
    return SprintReport(
        sprint=sprint,
        measured_at=end,
        committed=committed,
        added=added,
        removed=removed,
        completed=completed,
        not_completed=not_completed,
        carried_over=carried,
        committed_points=committed_points,
        added_points=added_points,
        removed_points=removed_points,
        estimate_change_points=change_points,
        completed_points=sum(line.points for line in completed),
        not_completed_points=sum(line.points for line in not_completed),
        burndown=_burndown(relevant, sprint, end, committed_points, zone),
    )


def _first_entry_points(issue: IssueHistory, sprint: SprintInfo, end: datetime) -> float:
    for when, entry in _membership_events(issue, sprint.id, sprint.start, end):
        if entry:
            return issue.points_at(when)
    return 0.0


def _last_exit_points(issue: IssueHistory, sprint: SprintInfo, end: datetime) -> float:
    exits = [w for w, entry in _membership_events(issue, sprint.id, sprint.start, end) if not entry]
    return _points_before(issue, exits[-1]) if exits else 0.0


# ---------------------------------------------------------------------------------- velocity


@dataclass(frozen=True)
class VelocityEntry:
    """Committed and completed points of one sprint."""

    sprint_id: int
    name: str
    state: SprintState
    committed_points: float
    completed_points: float


@dataclass(frozen=True)
class VelocityReport:
    """Velocity across sprints; averages and trend use closed sprints only."""

    entries: list[VelocityEntry]
    average_committed: float | None
    average_completed: float | None
    #: Least-squares slope of completed points per sprint (points per sprint; + is rising).
    trend: float | None
    #: Sum completed / sum committed over closed sprints.
    completion_ratio: float | None


def velocity_report(reports: Sequence[SprintReport]) -> VelocityReport:
    """Velocity from sprint reports, oldest sprint first."""
    ordered = sorted(reports, key=lambda r: r.sprint.start)
    entries = [
        VelocityEntry(
            r.sprint.id, r.sprint.name, r.sprint.state, r.committed_points, r.completed_points
        )
        for r in ordered
    ]
    closed = [e for e in entries if e.state == "closed"]
    if not closed:
        return VelocityReport(entries, None, None, None, None)
    n = len(closed)
    committed = sum(e.committed_points for e in closed)
    done = [e.completed_points for e in closed]
    trend: float | None = None
    if n >= 2:
        mean_x = (n - 1) / 2
        mean_y = sum(done) / n
        sxx = sum((x - mean_x) ** 2 for x in range(n))
        trend = round(sum((x - mean_x) * (y - mean_y) for x, y in enumerate(done)) / sxx, 4)
    return VelocityReport(
        entries=entries,
        average_committed=round(committed / n, 4),
        average_completed=round(sum(done) / n, 4),
        trend=trend,
        completion_ratio=round(sum(done) / committed, 4) if committed else None,
    )


# -------------------------------------------------------------------------------- cycle time


@dataclass(frozen=True)
class CycleTime:
    """How long one issue took from first "in progress" to its final "done"."""

    key: str
    started: datetime
    finished: datetime

    @property
    def days(self) -> float:
        """Elapsed calendar time in days (time zones do not change it)."""
        return (self.finished - self.started).total_seconds() / 86_400


@dataclass(frozen=True)
class CycleTimeReport:
    """Cycle-time distribution of done issues."""

    items: list[CycleTime]
    #: Done issues that never passed through an in-progress status (no cycle time).
    skipped: list[str]
    p50: float | None
    p85: float | None
    p95: float | None
    mean: float | None
    #: Whole days (floor) -> number of issues.
    histogram: dict[int, int]


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``pct``% of values <= it."""
    if not 0 < pct <= 100:
        raise ValidationError("a percentile is between 0 (excluded) and 100")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def cycle_time(issue: IssueHistory, as_of: datetime) -> CycleTime | None:
    """The cycle time of an issue done at ``as_of``; None when not done or never in progress."""
    if not issue.done(as_of):
        return None
    started: datetime | None = None
    finished: datetime | None = None
    previous = issue.categories.get(issue.status.initial, "new")
    for when, status in issue.status.changes:
        if when > as_of:
            break
        category = issue.categories.get(status, "new")
        if category == "indeterminate" and started is None:
            started = when
        if category == "done" and previous != "done":
            finished = when
        previous = category
    if started is None or finished is None or finished < started:
        return None
    return CycleTime(issue.key, started, finished)


def cycle_time_report(issues: Iterable[IssueHistory], *, as_of: datetime) -> CycleTimeReport:
    """Cycle times of the given issues that are done at ``as_of``."""
    items: list[CycleTime] = []
    skipped: list[str] = []
    for issue in issues:
        if not issue.done(as_of):
            continue
        ct = cycle_time(issue, as_of)
        if ct is None:
            skipped.append(issue.key)
        else:
            items.append(ct)
    items.sort(key=lambda c: (c.finished, c.key))
    days = [c.days for c in items]
    histogram: dict[int, int] = {}
    for d in days:
        histogram[math.floor(d)] = histogram.get(math.floor(d), 0) + 1
    return CycleTimeReport(
        items=items,
        skipped=sorted(skipped),
        p50=percentile(days, 50),
        p85=percentile(days, 85),
        p95=percentile(days, 95),
        mean=round(sum(days) / len(days), 4) if days else None,
        histogram=dict(sorted(histogram.items())),
    )
