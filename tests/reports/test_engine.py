"""The engine on histories written by hand: edge cases, errors, and the scope identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jirabridge.errors import ValidationError
from jirabridge.sync.reports.engine import (
    SprintInfo,
    cycle_time_report,
    percentile,
    sprint_report,
    velocity_report,
)
from jirabridge.sync.reports.history import (
    IssueHistory,
    Timeline,
    parse_issue_history,
    status_categories_from,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CATS = {"1": "new", "3": "indeterminate", "10001": "done"}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def jira_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def raw_issue(
    key: str,
    *,
    created: datetime,
    sprint: list[int],
    status: str,
    points: Any,
    history: list[tuple[datetime, list[dict[str, Any]]]],
) -> dict[str, Any]:
    return {
        "key": key,
        "fields": {
            "summary": f"Issue {key}",
            "issuetype": {"name": "Story"},
            "created": jira_time(created),
            "status": {"id": status, "statusCategory": {"key": CATS[status]}},
            "customfield_10016": points,
            "customfield_10020": [{"id": s, "name": f"S{s}"} for s in sprint],
        },
        "changelog": {
            "histories": [
                {"id": str(n), "created": jira_time(when), "items": items}
                for n, (when, items) in enumerate(history)
            ]
        },
    }


def sprint_item(old: str | None, new: str | None) -> dict[str, Any]:
    return {"field": "Sprint", "fieldId": "customfield_10020", "from": old, "to": new}


def status_item(old: str, new: str) -> dict[str, Any]:
    return {"field": "status", "fieldId": "status", "from": old, "to": new}


def points_item(old: str | None, new: str | None) -> dict[str, Any]:
    return {
        "field": "Story point estimate",
        "fieldId": "customfield_10016",
        "fromString": old,
        "toString": new,
    }


def test_timeline_value_at_and_change_at_the_same_instant() -> None:
    line = Timeline("a", ((at(1), "b"), (at(2), "c")))
    assert line.at(at(0)) == "a"
    assert line.at(at(1)) == "b"  # a change at t is in effect at t
    assert line.at(at(1.5)) == "b"
    assert line.at(at(5)) == "c"


def test_parse_rebuilds_initial_values_from_the_first_change() -> None:
    raw = raw_issue(
        "X-1",
        created=at(-48),
        sprint=[7, 8],
        status="10001",
        points=5,
        history=[
            (at(3), [points_item("3", "5")]),
            (at(1), [sprint_item("7", "7, 8"), status_item("1", "3")]),
            (at(4), [status_item("3", "10001")]),
        ],
    )
    h = parse_issue_history(raw, status_categories=CATS)
    assert h.sprints.at(at(0)) == {7}
    assert h.sprints.at(at(2)) == {7, 8}
    assert h.points.at(at(2)) == 3.0
    assert h.points_at(at(3)) == 5.0
    assert h.category(at(0)) == "new"
    assert h.done(at(4))
    assert not h.in_sprint(7, at(-49))  # before it existed


def test_parse_refuses_bad_data() -> None:
    with pytest.raises(ValidationError, match="lacks 'created'"):
        parse_issue_history({"key": "X-1", "fields": {}})
    raw = raw_issue(
        "X-2",
        created=at(-1),
        sprint=[],
        status="1",
        points=None,
        history=[(at(1), [points_item("many", "3")])],
    )
    with pytest.raises(ValidationError, match="not a number"):
        parse_issue_history(raw)


def test_unestimated_issue_counts_zero_points() -> None:
    raw = raw_issue("X-3", created=at(-1), sprint=[1], status="1", points=None, history=[])
    h = parse_issue_history(raw)
    assert h.points_at(at(1)) == 0.0


def test_status_categories_from_status_list() -> None:
    statuses = [
        {"id": "1", "statusCategory": {"key": "new"}},
        {"id": "2", "statusCategory": {"key": "undefined"}},
        {"id": "3"},
    ]
    assert status_categories_from(statuses) == {"1": "new"}


def test_sprint_dates_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        SprintInfo(1, "S", "closed", datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValidationError, match="ends before"):
        SprintInfo(1, "S", "closed", at(5), at(1))


def test_active_sprint_is_measured_now_and_has_no_carry_over() -> None:
    sprint = SprintInfo(1, "S1", "active", at(0), at(24 * 14))
    raw = raw_issue(
        "X-1",
        created=at(-5),
        sprint=[1],
        status="1",
        points=3,
        history=[(at(-1), [sprint_item(None, "1")])],
    )
    report = sprint_report(
        sprint, [parse_issue_history(raw, status_categories=CATS)], as_of=at(30), zone=UTC
    )
    assert report.measured_at == at(30)
    assert report.not_completed_points == 3
    assert report.carried_over == []
    # Days up to "now" only: the start, then 2 March and 3 March (local UTC days).
    assert [p.label for p in report.burndown] == ["start", "2026-03-02", "2026-03-03"]
    assert report.burndown[-1].at == at(30)


def test_issue_added_removed_and_added_again() -> None:
    sprint = SprintInfo(1, "S1", "closed", at(0), at(100), at(100))
    raw = raw_issue(
        "X-1",
        created=at(-5),
        sprint=[1],
        status="10001",
        points=5,
        history=[
            (at(10), [sprint_item(None, "1")]),
            (at(20), [sprint_item("1", None)]),
            (at(30), [points_item("2", "5")]),  # while out: no scope change
            (at(40), [sprint_item(None, "1")]),
            (at(50), [status_item("1", "10001")]),
        ],
    )
    r = sprint_report(
        sprint, [parse_issue_history(raw, status_categories=CATS)], as_of=at(200), zone=UTC
    )
    assert [x.key for x in r.committed] == []
    assert [(x.key, x.points) for x in r.added] == [("X-1", 2.0)]  # points when first added
    assert [x.key for x in r.removed] == []  # back in by the end
    assert (r.added_points, r.removed_points, r.estimate_change_points) == (7.0, 2.0, 0.0)
    assert r.completed_points == 5
    assert r.added_points - r.removed_points + r.estimate_change_points == r.final_scope_points


def test_percentile_nearest_rank() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 20) == 1.0
    assert percentile(values, 21) == 2.0
    assert percentile(values, 100) == 5.0
    assert percentile([], 50) is None
    with pytest.raises(ValidationError):
        percentile(values, 0)


def test_velocity_without_closed_sprints_and_with_one() -> None:
    assert velocity_report([]).average_completed is None
    sprint = SprintInfo(1, "S1", "closed", at(0), at(10), at(10))
    raw = raw_issue(
        "X-1",
        created=at(-5),
        sprint=[1],
        status="10001",
        points=2,
        history=[(at(5), [status_item("1", "10001")])],
    )
    report = sprint_report(
        sprint, [parse_issue_history(raw, status_categories=CATS)], as_of=at(20), zone=UTC
    )
    v = velocity_report([report])
    assert (v.average_committed, v.average_completed, v.trend, v.completion_ratio) == (
        2,
        2,
        None,
        1.0,
    )
    # Straight to done: no cycle time, listed as skipped.
    c = cycle_time_report([parse_issue_history(raw, status_categories=CATS)], as_of=at(20))
    assert (c.items, c.skipped, c.p50) == ([], ["X-1"], None)


# Scope identity: committed + added - removed + re-estimates = completed + not completed,
# whatever the order of moves, re-estimates and status changes.
_event = st.tuples(
    st.integers(min_value=-20, max_value=120),
    st.sampled_from(["in", "out", "points", "start", "done", "reopen"]),
    st.integers(min_value=0, max_value=13),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_event, max_size=8), min_size=1, max_size=5))
# Two re-estimates at one instant (1 -> 0 -> 2) are one change of +1, not two of +1.
@example(issues=[[(0, "in", 0), (1, "points", 0), (1, "points", 2)]])
def test_scope_identity_holds_for_any_history(issues: list[list[tuple[int, str, int]]]) -> None:
    sprint = SprintInfo(1, "S1", "closed", at(0), at(100), at(100))
    histories: list[IssueHistory] = []
    for n, events in enumerate(issues):
        member, status, points = False, "1", 1
        history = []
        for hour, kind, value in sorted(events, key=lambda e: e[0]):
            if kind == "in" and not member:
                history.append((at(hour), [sprint_item(None, "1")]))
                member = True
            elif kind == "out" and member:
                history.append((at(hour), [sprint_item("1", None)]))
                member = False
            elif kind == "points" and value != points:
                history.append((at(hour), [points_item(str(points), str(value))]))
                points = value
            elif kind in ("start", "done", "reopen"):
                new = {"start": "3", "done": "10001", "reopen": "3"}[kind]
                if new != status:
                    history.append((at(hour), [status_item(status, new)]))
                    status = new
        raw = raw_issue(
            f"X-{n}",
            created=at(-30),
            sprint=[1] if member else [],
            status=status,
            points=points,
            history=history,
        )
        histories.append(parse_issue_history(raw, status_categories=CATS))
    r = sprint_report(sprint, histories, as_of=at(500), zone=UTC)
    lhs = r.committed_points + r.added_points - r.removed_points + r.estimate_change_points
    assert lhs == pytest.approx(r.final_scope_points)
    assert r.burndown[0].scope_points == r.committed_points
    assert r.burndown[-1].scope_points == pytest.approx(r.final_scope_points)
    assert r.burndown[-1].completed_points == r.completed_points
