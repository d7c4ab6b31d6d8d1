"""``#time`` through the worklog engine: one time record per commit command, synced once.

A Smart Commit ``#time`` becomes a time record (``store/time_records``) whose id is derived
from the owner, the Jira connection and the command's external id (``smart:<sha>:<key>:time:
<n>``), so replaying the commit finds the same record instead of adding one. The record is
then synced by :class:`~jirabridge.sync.worklogs.executor.WorklogSync`, whose ledger makes the
worklog exactly once per record, the same way a record typed in by hand is synced; the record
shows on the time pages with its link to the commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import JirabridgeError
from jirabridge.jira import JiraClient
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.devlinks import OwnerRef
from jirabridge.store.worklog_models import TimeRecordRow
from jirabridge.sync.worklogs.executor import WorklogSync

__all__ = ["SmartTime", "TimeSink", "WorklogEngineTime", "smart_time_record_id"]

_NAMESPACE = uuid.UUID("4d3c5a1e-9f2b-4c8e-8a61-3b7f0e2d9c15")


@dataclass(frozen=True, slots=True)
class SmartTime:
    """One ``#time`` command to log."""

    external_id: str
    issue_key: str
    started: datetime
    seconds: int
    comment: str
    commit_url: str


class TimeSink(Protocol):
    """Where ``#time`` goes; returns a description of what was written (shown per commit)."""

    async def log_time(self, entry: SmartTime) -> str:
        """Log ``entry`` once, however often it is called."""
        ...


def smart_time_record_id(owner_key: str, site: str, external_id: str) -> str:
    """The time record id of a ``#time`` command (the same on every replay)."""
    return str(uuid.uuid5(_NAMESPACE, f"{owner_key}|{site}|{external_id}"))


@dataclass(frozen=True, slots=True)
class WorklogEngineTime:
    """A :class:`TimeSink` writing time records of ``owner`` and syncing them to ``site``."""

    sessions: async_sessionmaker[AsyncSession]
    jira: JiraClient
    site: str
    owner: OwnerRef

    async def log_time(self, entry: SmartTime) -> str:
        """Find or create the record, then sync it through the worklog engine."""
        record_id = smart_time_record_id(self.owner.key, self.site, entry.external_id)
        async with write_transaction(self.sessions) as session:
            if await session.get(TimeRecordRow, record_id) is None:
                session.add(
                    TimeRecordRow(
                        id=record_id,
                        **self.owner.columns(),
                        connection_id=self.site,
                        started_at=entry.started,
                        duration_seconds=entry.seconds,
                        notes=entry.comment or f"Smart Commit {entry.commit_url}",
                        external_link=entry.commit_url,
                        issue_key=entry.issue_key,
                    )
                )
        summary = await WorklogSync(self.sessions, self.jira, site=self.site).sync([record_id])
        async with read_transaction(self.sessions) as session:
            row = await session.get(TimeRecordRow, record_id)
        if summary.failed or row is None or row.worklog_id is None:
            reason = summary.errors[0]["error"] if summary.errors else "not synced"
            raise JirabridgeError(f"time record {record_id} could not be synced: {reason}")
        return f"time record {record_id}, worklog {row.worklog_id}"
