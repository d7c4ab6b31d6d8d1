"""The write ledger: intent, sent, confirmed/failed, reconcile listing; safe under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from jirabridge.errors import ConflictError, NotFoundError, ValidationError
from jirabridge.store.db import read_transaction, session_factory
from jirabridge.store.ledger import MAX_ERROR_LENGTH, LedgerEntry, LedgerKey, WriteLedger
from jirabridge.store.models import LedgerState, WriteLedgerRow, WriteOperation

KEY = LedgerKey("acme.atlassian.net", "worklog", "time-record-17")


class FakeClock:
    """An aware UTC clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(engine: AsyncEngine, clock: FakeClock) -> WriteLedger:
    return WriteLedger(session_factory(engine), clock=clock)


async def _row_count(engine: AsyncEngine) -> int:
    async with read_transaction(session_factory(engine)) as session:
        return int((await session.execute(select(func.count(WriteLedgerRow.id)))).scalar_one())


async def test_record_intent_creates_a_planned_entry(ledger: WriteLedger, clock: FakeClock) -> None:
    result = await ledger.record_intent(KEY, fingerprint="sha256:aa", target="PROJ-1")
    assert result.created
    entry = result.entry
    assert entry.key == KEY
    assert entry.state is LedgerState.PLANNED
    assert entry.operation is WriteOperation.CREATE
    assert entry.fingerprint == "sha256:aa"
    assert entry.target == "PROJ-1"
    assert entry.attempts == 0
    assert entry.remote_id is None
    assert entry.created_at == clock.now
    assert await ledger.get(KEY) == entry


async def test_a_second_intent_gets_the_existing_entry(ledger: WriteLedger) -> None:
    first = await ledger.record_intent(KEY, fingerprint="one")
    second = await ledger.record_intent(KEY, fingerprint="two")
    assert not second.created
    assert second.entry == first.entry
    assert second.entry.fingerprint == "one"


async def test_concurrent_intents_for_one_key_have_exactly_one_winner(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    # Separate repositories over separate session factories: like separate workers.
    ledgers = [WriteLedger(session_factory(engine), clock=clock) for _ in range(8)]
    results = await asyncio.gather(
        *(led.record_intent(KEY, fingerprint=f"worker-{i}") for i, led in enumerate(ledgers))
    )
    winners = [result for result in results if result.created]
    assert len(winners) == 1
    assert {result.entry.id for result in results} == {winners[0].entry.id}
    assert {result.entry.fingerprint for result in results} == {winners[0].entry.fingerprint}
    assert await _row_count(engine) == 1


async def test_concurrent_intents_for_different_keys_all_win(
    engine: AsyncEngine, ledger: WriteLedger
) -> None:
    keys = [LedgerKey("acme", "worklog", f"r-{i}") for i in range(10)]
    results = await asyncio.gather(*(ledger.record_intent(k, fingerprint="f") for k in keys))
    assert all(result.created for result in results)
    assert await _row_count(engine) == 10


async def test_the_same_external_id_may_exist_per_site_and_kind(ledger: WriteLedger) -> None:
    keys = [
        LedgerKey("acme", "worklog", "x"),
        LedgerKey("globex", "worklog", "x"),
        LedgerKey("acme", "issue", "x"),
    ]
    results = [await ledger.record_intent(k, fingerprint="f") for k in keys]
    assert all(result.created for result in results)


async def test_sent_then_confirmed(ledger: WriteLedger, clock: FakeClock) -> None:
    await ledger.record_intent(KEY, fingerprint="f")
    clock.advance(1)
    sent = await ledger.mark_sent(KEY)
    assert sent.state is LedgerState.SENT
    assert sent.attempts == 1
    assert sent.updated_at == clock.now
    clock.advance(1)
    confirmed = await ledger.confirm(KEY, "10042")
    assert confirmed.state is LedgerState.CONFIRMED
    assert confirmed.remote_id == "10042"
    assert confirmed.attempts == 1
    assert await ledger.find_by_remote_id(KEY.site, KEY.kind, "10042") == confirmed
    assert await ledger.find_by_remote_id(KEY.site, KEY.kind, "99999") is None


async def test_confirm_is_idempotent_for_the_same_remote_id(ledger: WriteLedger) -> None:
    await ledger.record_intent(KEY, fingerprint="f")
    await ledger.mark_sent(KEY)
    first = await ledger.confirm(KEY, "10042")
    again = await ledger.confirm(KEY, "10042")
    assert again.state is LedgerState.CONFIRMED
    assert again.id == first.id


async def test_confirming_a_different_remote_id_is_a_duplicate(ledger: WriteLedger) -> None:
    await ledger.record_intent(KEY, fingerprint="f")
    await ledger.mark_sent(KEY)
    await ledger.confirm(KEY, "10042")
    with pytest.raises(ConflictError, match="confirmed") as caught:
        await ledger.confirm(KEY, "10043")
    assert caught.value.details["remote_id"] == "10042"


async def test_concurrent_confirms_with_different_ids_let_only_one_through(
    engine: AsyncEngine, ledger: WriteLedger, clock: FakeClock
) -> None:
    await ledger.record_intent(KEY, fingerprint="f")
    await ledger.mark_sent(KEY)
    other = WriteLedger(session_factory(engine), clock=clock)
    outcomes = await asyncio.gather(
        ledger.confirm(KEY, "1"), other.confirm(KEY, "2"), return_exceptions=True
    )
    conflicts = [outcome for outcome in outcomes if isinstance(outcome, ConflictError)]
    assert len(conflicts) == 1
    stored = await ledger.get(KEY)
    assert stored is not None
    assert stored.remote_id in {"1", "2"}


async def test_concurrent_attempts_are_all_counted(
    engine: AsyncEngine, ledger: WriteLedger, clock: FakeClock
) -> None:
    await ledger.record_intent(KEY, fingerprint="f")
    ledgers = [WriteLedger(session_factory(engine), clock=clock) for _ in range(5)]
    await asyncio.gather(*(led.mark_sent(KEY) for led in ledgers))
    stored = await ledger.get(KEY)
    assert stored is not None
    assert stored.attempts == 5


async def test_a_confirmed_write_cannot_be_sent_again(ledger: WriteLedger) -> None:
    await ledger.record_intent(KEY, fingerprint="f")
    await ledger.mark_sent(KEY)
    await ledger.confirm(KEY, "1")
    with pytest.raises(ConflictError, match="is confirmed"):
        await ledger.mark_sent(KEY)
    with pytest.raises(ConflictError):
        await ledger.mark_failed(KEY, "late error")


async def test_unknown_keys_are_not_found(ledger: WriteLedger) -> None:
    assert await ledger.get(KEY) is None
    with pytest.raises(NotFoundError):
        await ledger.mark_sent(KEY)
    with pytest.raises(NotFoundError):
        await ledger.confirm(KEY, "1")


async def test_failed_keeps_a_truncated_error_and_may_be_retried(ledger: WriteLedger) -> None:
    await ledger.record_intent(KEY, fingerprint="f")
    await ledger.mark_sent(KEY)
    failed = await ledger.mark_failed(KEY, "400 Bad Request: " + "x" * 5000)
    assert failed.state is LedgerState.FAILED
    assert failed.last_error is not None
    assert len(failed.last_error) == MAX_ERROR_LENGTH
    assert failed.last_error.startswith("400 Bad Request")
    resent = await ledger.mark_sent(KEY)
    assert resent.attempts == 2
    confirmed = await ledger.confirm(KEY, "7")
    assert confirmed.last_error is None


async def test_replan_after_confirm_keeps_the_remote_id(ledger: WriteLedger) -> None:
    await ledger.record_intent(KEY, fingerprint="v1", target="PROJ-1")
    await ledger.mark_sent(KEY)
    await ledger.confirm(KEY, "10042")
    replanned = await ledger.replan(KEY, fingerprint="v2", operation=WriteOperation.UPDATE)
    assert replanned.state is LedgerState.PLANNED
    assert replanned.operation is WriteOperation.UPDATE
    assert replanned.fingerprint == "v2"
    assert replanned.remote_id == "10042"
    assert replanned.target == "PROJ-1"
    assert replanned.attempts == 0


async def test_replan_while_sent_must_reconcile_first(ledger: WriteLedger) -> None:
    await ledger.record_intent(KEY, fingerprint="v1")
    await ledger.mark_sent(KEY)
    with pytest.raises(ConflictError, match="is sent"):
        await ledger.replan(KEY, fingerprint="v2", operation=WriteOperation.UPDATE)


async def test_list_unconfirmed_feeds_reconcile(ledger: WriteLedger, clock: FakeClock) -> None:
    planned = LedgerKey("acme", "worklog", "planned")
    sent_old = LedgerKey("acme", "worklog", "sent-old")
    sent_new = LedgerKey("acme", "worklog", "sent-new")
    other_site = LedgerKey("globex", "worklog", "sent")
    issue = LedgerKey("acme", "issue", "sent")
    done = LedgerKey("acme", "worklog", "done")
    for key in (planned, sent_old, other_site, issue, done):
        await ledger.record_intent(key, fingerprint="f")
    for key in (sent_old, other_site, issue, done):
        await ledger.mark_sent(key)
    await ledger.confirm(done, "1")
    clock.advance(120)
    await ledger.record_intent(sent_new, fingerprint="f")
    await ledger.mark_sent(sent_new)

    def keys(entries: list[LedgerEntry]) -> set[str]:
        return {entry.key.external_id for entry in entries}

    everything = await ledger.list_unconfirmed()
    assert {entry.key for entry in everything} == {
        planned,
        sent_old,
        sent_new,
        other_site,
        issue,
    }
    acme_worklogs = await ledger.list_unconfirmed(site="acme", kind="worklog")
    assert keys(acme_worklogs) == {"planned", "sent-old", "sent-new"}
    only_sent = await ledger.list_unconfirmed(site="acme", states=[LedgerState.SENT])
    assert {entry.key for entry in only_sent} == {sent_old, sent_new, issue}
    settled = await ledger.list_unconfirmed(
        site="acme", kind="worklog", updated_before=clock.now - timedelta(seconds=60)
    )
    assert keys(settled) == {"planned", "sent-old"}


async def test_list_unconfirmed_pages_in_id_order(ledger: WriteLedger) -> None:
    for i in range(5):
        await ledger.record_intent(LedgerKey("acme", "worklog", f"r{i}"), fingerprint="f")
    first = await ledger.list_unconfirmed(limit=2)
    second = await ledger.list_unconfirmed(limit=2, after_id=first[-1].id)
    third = await ledger.list_unconfirmed(limit=2, after_id=second[-1].id)
    ids = [entry.key.external_id for entry in first + second + third]
    assert ids == ["r0", "r1", "r2", "r3", "r4"]


@pytest.mark.parametrize(
    ("site", "kind", "external_id"),
    [
        ("", "worklog", "x"),
        ("acme", "Worklog", "x"),
        ("acme", "work log", "x"),
        ("acme", "worklog", "  "),
        ("acme", "worklog", "x" * 256),
        ("acme", "", "x"),
    ],
)
def test_bad_keys_are_refused(site: str, kind: str, external_id: str) -> None:
    with pytest.raises(ValidationError):
        LedgerKey(site, kind, external_id)


async def test_bad_arguments_are_refused_before_any_write(
    engine: AsyncEngine, ledger: WriteLedger
) -> None:
    with pytest.raises(ValidationError):
        await ledger.record_intent(KEY, fingerprint="")
    with pytest.raises(ValidationError):
        await ledger.record_intent(KEY, fingerprint="f", target=" ")
    with pytest.raises(ValidationError):
        await ledger.list_unconfirmed(limit=0)
    with pytest.raises(ValidationError):
        await ledger.list_unconfirmed(states=[])
    assert await _row_count(engine) == 0
    await ledger.record_intent(KEY, fingerprint="f")
    with pytest.raises(ValidationError):
        await ledger.confirm(KEY, "")
    with pytest.raises(ValidationError):
        await ledger.mark_failed(KEY, "  ")
