"""The pure planner: rounding, time zones and DST, and every create/update/delete/pull rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jirabridge.errors import ValidationError
from jirabridge.jira.dates import format_jira_datetime
from jirabridge.store.models import LedgerState
from jirabridge.sync.worklogs.planner import (
    ActionKind,
    IssueFacts,
    LedgerFacts,
    RecordSnapshot,
    RemoteWorklog,
    content_fingerprint,
    plan_sync,
)
from jirabridge.sync.worklogs.rounding import Rounding, local_started

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OPEN = {"PRJ-1": IssueFacts("PRJ-1")}


def record(**changes: object) -> RecordSnapshot:
    base: dict[str, object] = {
        "id": "r1",
        "issue_key": "PRJ-1",
        "started_at": T0,
        "duration_seconds": 1800,
        "notes": "work",
    }
    base.update(changes)
    return RecordSnapshot(**base)  # type: ignore[arg-type]


def synced(**changes: object) -> RecordSnapshot:
    agreed = content_fingerprint(T0, 1800, "work")
    fields: dict[str, object] = {
        "worklog_id": "100",
        "synced_issue_key": "PRJ-1",
        "synced_fingerprint": agreed,
    }
    fields.update(changes)
    return record(**fields)


def jira_copy(**changes: object) -> RemoteWorklog:
    base: dict[str, object] = {"id": "100", "started": T0, "seconds": 1800, "comment": "work"}
    base.update(changes)
    return RemoteWorklog(**base)  # type: ignore[arg-type]


def plan_one(rec: RecordSnapshot, **kwargs: object) -> tuple[ActionKind, str]:
    plan = plan_sync(
        [rec],
        remote=kwargs.get("remote", {}),  # type: ignore[arg-type]
        issues=kwargs.get("issues", OPEN),  # type: ignore[arg-type]
        ledger=kwargs.get("ledger", {}),  # type: ignore[arg-type]
    )
    action = plan.for_record(rec.id)
    return action.kind, action.reason


# -- rounding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, 0), (-5, 0), (1, 60), (29, 60), (89, 60), (90, 120), (149, 120), (3599, 3600)],
)
def test_default_rounding_is_the_nearest_minute_at_least_one(seconds: int, expected: int) -> None:
    assert Rounding().apply(seconds) == expected


def test_rounding_to_quarter_hours() -> None:
    quarter = Rounding(step_seconds=900, minimum_seconds=900)
    assert quarter.apply(60) == 900
    assert quarter.apply(1349) == 900
    assert quarter.apply(1350) == 1800


def test_rounding_refuses_a_minimum_under_jiras_floor() -> None:
    with pytest.raises(ValidationError):
        Rounding(minimum_seconds=30)


@given(st.integers(min_value=1, max_value=10**7))
def test_rounding_is_stable_and_close(seconds: int) -> None:
    rounded = Rounding().apply(seconds)
    assert rounded % 60 == 0
    assert rounded >= 60
    assert Rounding().apply(rounded) == rounded
    assert abs(rounded - seconds) <= 30 or seconds < 60


# -- time zones ---------------------------------------------------------------------------


def test_started_keeps_the_local_day_across_midnight() -> None:
    # 23:30 in Berlin on the 20th is 22:30 UTC: Jira must get the 20th with +0100.
    started = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
    local = local_started(started, "Europe/Berlin")
    assert format_jira_datetime(local) == "2026-11-20T23:30:00.000+0100"
    # And 00:30 in Tokyo on the 21st is 15:30 UTC on the 20th.
    tokyo = local_started(datetime(2026, 11, 20, 15, 30, tzinfo=UTC), "Asia/Tokyo")
    assert format_jira_datetime(tokyo) == "2026-11-21T00:30:00.000+0900"


def test_started_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # The night clocks went back (2026-10-25 03:00 CEST -> 02:00 CET): 01:30 local is CEST,
    # 03:30 local is CET; the two instants are three hours apart, not two.
    before = datetime(2026, 10, 25, 1, 30, tzinfo=berlin)
    after = datetime(2026, 10, 25, 3, 30, tzinfo=berlin)
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=3)
    assert format_jira_datetime(local_started(before, "Europe/Berlin")).endswith("+0200")
    assert format_jira_datetime(local_started(after, "Europe/Berlin")).endswith("+0100")
    # Spring forward: 2026-03-29 02:00 CET -> 03:00 CEST.
    spring = local_started(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "Europe/Berlin")
    assert format_jira_datetime(spring) == "2026-03-29T03:30:00.000+0200"


def test_a_record_planned_in_its_zone_has_the_same_fingerprint_as_in_utc() -> None:
    utc = record()
    berlin = record(time_zone="Europe/Berlin")
    assert utc.fingerprint == berlin.fingerprint
    action = plan_sync([berlin], remote={}, issues=OPEN, ledger={}).actions[0]
    assert action.started is not None
    assert action.started.utcoffset() == timedelta(hours=1)
    assert action.started == T0


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="Mars/Base"):
        local_started(T0, "Mars/Base")


# -- first writes -------------------------------------------------------------------------


def test_a_new_linked_record_is_created() -> None:
    plan = plan_sync([record()], remote={}, issues=OPEN, ledger={})
    (action,) = plan.actions
    assert action.kind is ActionKind.CREATE
    assert action.writes_to_jira
    assert action.seconds == 1800
    assert action.comment == "work"
    assert not action.reconcile_first
    assert "create" in plan.render()


@pytest.mark.parametrize(
    ("rec", "issues", "message"),
    [
        (record(duration_seconds=0), OPEN, "0 minutes"),
        (record(issue_key="PRJ-9"), OPEN, "does not exist"),
        (record(), {"PRJ-1": IssueFacts("PRJ-1", exists=False)}, "does not exist"),
        (record(), {"PRJ-1": IssueFacts("PRJ-1", closed=True)}, "closed"),
        (record(), {"PRJ-1": IssueFacts("PRJ-1", can_log_work=False)}, "permission"),
    ],
)
def test_bad_input_is_a_per_record_error(
    rec: RecordSnapshot, issues: dict[str, IssueFacts], message: str
) -> None:
    kind, reason = plan_one(rec, issues=issues)
    assert kind is ActionKind.ERROR
    assert message in reason


def test_an_unanswered_create_is_reconciled_before_writing_again() -> None:
    plan = plan_sync(
        [record()],
        remote={},
        issues=OPEN,
        ledger={"r1": LedgerFacts(LedgerState.SENT, None, "PRJ-1")},
    )
    action = plan.actions[0]
    assert action.kind is ActionKind.CREATE
    assert action.reconcile_first


def test_a_create_the_ledger_confirmed_is_adopted_not_repeated() -> None:
    kind, _ = plan_one(record(), ledger={"r1": LedgerFacts(LedgerState.CONFIRMED, "77", "PRJ-1")})
    assert kind is ActionKind.ADOPT
    plan = plan_sync(
        [record()],
        remote={},
        issues=OPEN,
        ledger={"r1": LedgerFacts(LedgerState.CONFIRMED, "77", "PRJ-1")},
    )
    assert plan.actions[0].worklog_id == "77"


# -- removal ------------------------------------------------------------------------------


def test_unlinking_a_synced_record_deletes_its_worklog() -> None:
    plan = plan_sync([synced(issue_key=None)], remote={}, issues={}, ledger={})
    action = plan.actions[0]
    assert action.kind is ActionKind.DELETE
    assert action.issue_key == "PRJ-1"
    assert action.worklog_id == "100"


def test_deleting_a_synced_record_deletes_its_worklog() -> None:
    kind, reason = plan_one(synced(deleted=True))
    assert kind is ActionKind.DELETE
    assert "deleted" in reason


def test_deleting_a_record_after_an_unanswered_create_finds_and_deletes() -> None:
    plan = plan_sync(
        [record(deleted=True)],
        remote={},
        issues={},
        ledger={"r1": LedgerFacts(LedgerState.SENT, None, "PRJ-1")},
    )
    action = plan.actions[0]
    assert action.kind is ActionKind.DELETE
    assert action.reconcile_first
    assert action.issue_key == "PRJ-1"


def test_deleting_a_never_synced_record_writes_nothing() -> None:
    assert plan_one(record(deleted=True))[0] is ActionKind.NOOP
    assert plan_one(record(deleted=True, issue_key=None))[0] is ActionKind.NOOP


def test_a_record_without_an_issue_is_a_per_record_error() -> None:
    kind, reason = plan_one(record(issue_key=None))
    assert kind is ActionKind.ERROR
    assert "no linked issue" in reason


# -- both sides ---------------------------------------------------------------------------


def test_in_step_is_a_noop() -> None:
    assert plan_one(synced(), remote={"100": jira_copy()})[0] is ActionKind.NOOP


def test_a_local_change_updates_in_place() -> None:
    plan = plan_sync(
        [synced(duration_seconds=3600)], remote={"100": jira_copy()}, issues={}, ledger={}
    )
    action = plan.actions[0]
    assert action.kind is ActionKind.UPDATE
    assert action.worklog_id == "100"
    assert action.seconds == 3600
    assert not any(a.kind is ActionKind.DELETE for a in plan.actions)


def test_a_change_in_jira_is_pulled() -> None:
    kind, _ = plan_one(synced(), remote={"100": jira_copy(seconds=2400)})
    assert kind is ActionKind.PULL_UPDATE


def test_a_change_on_both_sides_is_a_conflict_with_both_versions() -> None:
    plan = plan_sync(
        [synced(notes="mine")],
        remote={"100": jira_copy(comment="theirs")},
        issues={},
        ledger={},
    )
    action = plan.actions[0]
    assert action.kind is ActionKind.CONFLICT
    assert action.comment == "mine"
    assert action.remote is not None
    assert action.remote.comment == "theirs"


def test_the_same_change_on_both_sides_is_no_conflict() -> None:
    kind, _ = plan_one(synced(notes="same"), remote={"100": jira_copy(comment="same")})
    assert kind is ActionKind.ADOPT


def test_deleted_in_jira_deletes_the_record() -> None:
    assert plan_one(synced(), remote={})[0] is ActionKind.PULL_DELETE


def test_deleted_in_jira_and_changed_here_is_a_conflict() -> None:
    kind, reason = plan_one(synced(notes="edited"), remote={})
    assert kind is ActionKind.CONFLICT
    assert "deleted in Jira" in reason


def test_moving_a_synced_record_to_another_issue_is_refused_not_delete_then_add() -> None:
    kind, reason = plan_one(synced(issue_key="PRJ-2"), remote={"100": jira_copy()})
    assert kind is ActionKind.ERROR
    assert "PRJ-1" in reason


def test_the_plan_renders_counts() -> None:
    plan = plan_sync(
        [record(id="a"), synced(id="b", notes="x"), record(id="c", duration_seconds=0)],
        remote={"100": jira_copy()},
        issues=OPEN,
        ledger={},
    )
    assert plan.counts() == {"create": 1, "update": 1, "error": 1}
    text = plan.render()
    assert "3 record(s)" in text
    assert "create: 1" in text
