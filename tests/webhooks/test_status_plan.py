"""The status planner: pure, no database, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from jirabridge.store.ledger import LedgerEntry, LedgerKey
from jirabridge.store.models import LedgerState, WriteOperation
from jirabridge.sync.status_plan import (
    STATUS_WRITE_KIND,
    IncomingStatus,
    LinkSnapshot,
    StatusAction,
    StatusMapping,
    plan_status_change,
    status_fingerprint,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def link(**overrides: object) -> LinkSnapshot:
    values: dict[str, object] = {
        "issue_key": "ABC-1",
        "local_state": "todo",
        "jira_status": "To Do",
        "synced_jira_status": "To Do",
        "local_dirty": False,
        "updated_at": T0,
    }
    values.update(overrides)
    return LinkSnapshot(**values)  # type: ignore[arg-type]


def own_write(
    status: str, *, at: datetime, state: LedgerState = LedgerState.CONFIRMED
) -> LedgerEntry:
    return LedgerEntry(
        id=1,
        key=LedgerKey("conn-1", STATUS_WRITE_KIND, "story-1:status"),
        operation=WriteOperation.UPDATE,
        state=state,
        remote_id="10001",
        target="ABC-1",
        fingerprint=status_fingerprint("ABC-1", status),
        attempts=1,
        last_error=None,
        created_at=at,
        updated_at=at,
    )


DONE = IncomingStatus("ABC-1", "Done", "done")


def test_a_jira_change_moves_the_local_state_by_category() -> None:
    plan = plan_status_change(link(), DONE, [])
    assert plan.action == StatusAction.APPLY
    assert plan.new_local_state == "done"


def test_a_status_already_mirrored_is_a_noop_so_webhook_and_poll_converge() -> None:
    plan = plan_status_change(link(jira_status="Done"), DONE, [])
    assert plan.action == StatusAction.NOOP


def test_our_own_write_coming_back_is_dropped_as_an_echo() -> None:
    writes = [own_write("Done", at=T0 + timedelta(seconds=1))]
    plan = plan_status_change(link(local_state="done", local_dirty=True), DONE, writes)
    assert plan.action == StatusAction.ECHO
    assert plan.new_local_state is None


def test_an_old_write_of_the_same_status_does_not_hide_another_automations_change() -> None:
    writes = [own_write("Done", at=T0 - timedelta(hours=1))]
    plan = plan_status_change(link(), DONE, writes)
    assert plan.action == StatusAction.APPLY


def test_a_failed_write_is_not_an_echo() -> None:
    writes = [own_write("Done", at=T0 + timedelta(seconds=1), state=LedgerState.FAILED)]
    assert plan_status_change(link(), DONE, writes).action == StatusAction.APPLY


def test_a_write_of_another_status_is_not_an_echo() -> None:
    writes = [own_write("In Progress", at=T0 + timedelta(seconds=1))]
    assert plan_status_change(link(), DONE, writes).action == StatusAction.APPLY


def test_changes_on_both_sides_are_a_conflict_not_an_overwrite() -> None:
    plan = plan_status_change(link(local_state="in_progress", local_dirty=True), DONE, [])
    assert plan.action == StatusAction.CONFLICT
    assert plan.new_local_state is None
    assert "both sides" in plan.reason


def test_a_local_change_jira_agrees_with_is_applied_not_a_conflict() -> None:
    plan = plan_status_change(link(local_state="done", local_dirty=True), DONE, [])
    assert plan.action == StatusAction.APPLY


def test_mapping_by_name_wins_over_category() -> None:
    mapping = StatusMapping(by_name={"In Review": "review"})
    plan = plan_status_change(
        link(), IncomingStatus("ABC-1", "in review", "indeterminate"), [], mapping
    )
    assert plan.new_local_state == "review"
    unknown = plan_status_change(link(), IncomingStatus("ABC-1", "Odd", None), [])
    assert unknown.new_local_state == "unknown"


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_fingerprints_tell_statuses_apart(a: str, b: str) -> None:
    same = a.strip().casefold() == b.strip().casefold()
    assert (status_fingerprint("ABC-1", a) == status_fingerprint("ABC-1", b)) == same
