"""Engines, URLs, SQLite settings and transactions of jirabridge.store.db."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from jirabridge.errors import ConfigError, StorageError
from jirabridge.store.db import (
    READ_ONLY,
    SQLITE_BUSY_TIMEOUT_MS,
    is_sqlite,
    make_engine,
    normalize_url,
    ping,
    read_transaction,
    redact_url,
    session_factory,
    sqlite_url,
    write_transaction,
)
from jirabridge.store.models import LedgerState, WriteLedgerRow, WriteOperation


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:////data/app.db", "sqlite+aiosqlite:////data/app.db"),
        ("sqlite+aiosqlite:///rel.db", "sqlite+aiosqlite:///rel.db"),
        ("postgresql://u:p@db:5432/jb", "postgresql+asyncpg://u:p@db:5432/jb"),
        ("postgres://u@db/jb", "postgresql+asyncpg://u@db/jb"),
        ("postgresql+psycopg://u@db/jb", "postgresql+asyncpg://u@db/jb"),
        ("  postgresql+asyncpg://u@db/jb ", "postgresql+asyncpg://u@db/jb"),
    ],
)
def test_normalize_url_picks_the_async_driver(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize("bad", ["", "   ", "mysql://u@h/db", "not a url at all"])
def test_normalize_url_refuses_other_backends_and_garbage(bad: str) -> None:
    with pytest.raises(ConfigError):
        normalize_url(bad)


def test_bad_url_error_does_not_repeat_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        normalize_url("mysql://admin:hunter2secret@db/x")
    assert "hunter2secret" not in str(caught.value)


def test_redact_url_hides_the_password() -> None:
    redacted = redact_url("postgresql+asyncpg://admin:hunter2secret@db/jb")
    assert "hunter2secret" not in redacted
    assert "admin" in redacted
    assert "db/jb" in redacted


def test_sqlite_url_is_absolute_and_async(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = sqlite_url("data.db")
    assert url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'data.db'}"
    assert is_sqlite(url)
    assert not is_sqlite("postgresql://u@h/db")


def test_sqlite_url_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        sqlite_url(tmp_path)


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite://", "sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"]
)
def test_make_engine_refuses_in_memory_sqlite(url: str) -> None:
    with pytest.raises(ConfigError, match="in-memory"):
        make_engine(url)


def test_make_engine_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        make_engine(sqlite_url(tmp_path / "nope" / "app.db"))


async def test_sqlite_pragmas_are_set_on_every_connection(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "app.db"))
    try:
        # Two connections at once, so both come fresh from the pool's connect hook.
        async with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                await connection.execution_options(**READ_ONLY)
                pragmas = {
                    name: (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                    for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
                }
                assert pragmas == {
                    "journal_mode": "wal",
                    "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
                    "foreign_keys": 1,
                    "synchronous": 1,  # NORMAL
                }
    finally:
        await engine.dispose()


async def test_foreign_keys_can_be_switched_off_for_migrations(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "app.db"), foreign_keys=False)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(**READ_ONLY)
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def _counter_engine(tmp_path: Path) -> AsyncEngine:
    engine = make_engine(sqlite_url(tmp_path / "counter.db"))
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await connection.execute(text("INSERT INTO counter VALUES (0)"))
    return engine


async def test_write_transactions_queue_instead_of_failing(tmp_path: Path) -> None:
    """Ten concurrent read-modify-write transactions: none fails, none loses an update."""
    engine = await _counter_engine(tmp_path)
    sessions = session_factory(engine)

    async def increment() -> None:
        async with write_transaction(sessions) as session:
            current = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            await asyncio.sleep(0)  # let the other writers try to get in meanwhile
            await session.execute(text("UPDATE counter SET n = :n"), {"n": current + 1})

    try:
        await asyncio.gather(*(increment() for _ in range(10)))
        async with read_transaction(sessions) as session:
            assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 10
    finally:
        await engine.dispose()


async def test_a_second_writer_waits_for_the_first_and_sees_its_commit(tmp_path: Path) -> None:
    engine = await _counter_engine(tmp_path)
    sessions = session_factory(engine)
    first_inside = asyncio.Event()
    seen_by_second: list[int] = []

    async def first() -> None:
        async with write_transaction(sessions) as session:
            current = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            first_inside.set()
            # Give the second writer the chance to issue its BEGIN while we hold the lock.
            await asyncio.sleep(0.2)
            await session.execute(text("UPDATE counter SET n = :n"), {"n": current + 1})

    async def second() -> None:
        await first_inside.wait()
        async with write_transaction(sessions) as session:
            current = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            seen_by_second.append(current)
            await session.execute(text("UPDATE counter SET n = :n"), {"n": current + 1})

    try:
        await asyncio.gather(first(), second())
        assert seen_by_second == [1]
        async with read_transaction(sessions) as session:
            assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 2
    finally:
        await engine.dispose()


async def test_deferred_transactions_that_write_do_fail_which_is_why_we_begin_immediate(
    tmp_path: Path,
) -> None:
    """Control for the two tests above: the failure BEGIN IMMEDIATE prevents is real."""
    engine = await _counter_engine(tmp_path)
    sessions = session_factory(engine)
    both_have_read = asyncio.Barrier(2)

    async def increment_in_a_read_transaction() -> None:
        async with read_transaction(sessions) as session:
            current = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            await both_have_read.wait()
            await session.execute(text("UPDATE counter SET n = :n"), {"n": current + 1})
            await session.commit()

    try:
        outcomes = await asyncio.gather(
            increment_in_a_read_transaction(),
            increment_in_a_read_transaction(),
            return_exceptions=True,
        )
        errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert len(errors) == 1
        assert isinstance(errors[0], OperationalError)
        assert "locked" in str(errors[0])
    finally:
        await engine.dispose()


async def test_a_read_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    engine = await _counter_engine(tmp_path)
    sessions = session_factory(engine)
    writer_holds_lock = asyncio.Event()
    reader_done = asyncio.Event()

    async def writer() -> None:
        async with write_transaction(sessions) as session:
            await session.execute(text("UPDATE counter SET n = 5"))
            writer_holds_lock.set()
            # If reads took the write lock this would deadlock until busy_timeout.
            await reader_done.wait()

    async def reader() -> int:
        await writer_holds_lock.wait()
        try:
            async with read_transaction(sessions) as session:
                return int((await session.execute(text("SELECT n FROM counter"))).scalar_one())
        finally:
            reader_done.set()

    try:
        _, seen = await asyncio.gather(writer(), reader())
        assert seen == 0  # the writer had not committed yet
    finally:
        await engine.dispose()


async def test_read_transaction_discards_writes(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    async with read_transaction(sessions) as session:
        session.add(_ledger_row("discarded", now))
        await session.flush()
    async with read_transaction(sessions) as session:
        assert (await session.execute(select(WriteLedgerRow))).first() is None


async def test_write_transaction_rolls_back_on_error(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    now = datetime.now(UTC)

    async def fail_after_writing() -> None:
        async with write_transaction(sessions) as session:
            session.add(_ledger_row("rolled-back", now))
            await session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_after_writing()
    async with write_transaction(sessions) as session:
        session.add(_ledger_row("kept", now))
    async with read_transaction(sessions) as session:
        ids = (await session.execute(select(WriteLedgerRow.external_id))).scalars().all()
    assert ids == ["kept"]


def _ledger_row(external_id: str, at: datetime) -> WriteLedgerRow:
    return WriteLedgerRow(
        site="s",
        kind="worklog",
        external_id=external_id,
        operation=WriteOperation.CREATE.value,
        state=LedgerState.PLANNED.value,
        fingerprint="f",
        attempts=0,
        created_at=at,
        updated_at=at,
    )


async def test_timestamps_come_back_as_the_same_instant_in_utc(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    plus_two = timezone(timedelta(hours=2))
    written = datetime(2026, 11, 20, 11, 30, 15, 123456, tzinfo=plus_two)
    async with write_transaction(sessions) as session:
        session.add(_ledger_row("tz", written))
    async with read_transaction(sessions) as session:
        row = (await session.execute(select(WriteLedgerRow))).scalar_one()
    assert row.created_at == written
    assert row.created_at.utcoffset() == timedelta(0)
    assert row.created_at.hour == 9


async def test_naive_timestamps_are_refused(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    with pytest.raises(Exception, match="naive datetime"):
        async with write_transaction(sessions) as session:
            session.add(_ledger_row("naive", datetime(2026, 11, 20, 9, 0)))


async def test_ping_succeeds_on_a_live_database(engine: AsyncEngine) -> None:
    await ping(engine)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_ping_raises_storage_error_without_the_password() -> None:
    engine = make_engine(f"postgresql://jb:s3cretpass@127.0.0.1:{_closed_port()}/jb")
    try:
        with pytest.raises(StorageError) as caught:
            await ping(engine)
    finally:
        await engine.dispose()
    assert "unreachable" in str(caught.value)
    assert "s3cretpass" not in str(caught.value)
    assert "s3cretpass" not in repr(caught.value.details)
