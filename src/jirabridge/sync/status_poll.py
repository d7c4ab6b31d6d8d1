"""Polling fallback for status sync: an incremental pull that catches what webhooks missed.

:func:`poll_window` (pure) turns a stored watermark into the JQL to run and the next watermark;
:func:`poll_statuses` runs it through any ``search`` function (``JiraClient.search`` in the
service, a fake in tests) and applies each issue's status through the same
:meth:`StatusSync.apply_incoming_status` as the webhooks, so both converge without applying a
change twice.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ValidationError
from jirabridge.jira.jql import jql_list
from jirabridge.jira.models import Issue
from jirabridge.sync.status_plan import IncomingStatus
from jirabridge.sync.status_sync import AppliedPlan, StatusSync

__all__ = ["DEFAULT_OVERLAP", "PollWindow", "poll_statuses", "poll_window"]

#: How far before the watermark each pull starts again: JQL compares at minute precision in the
#: searching user's time zone, and the search index lags writes by seconds.
DEFAULT_OVERLAP = timedelta(minutes=5)

_PROJECT_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")

SearchFn = Callable[[str], AsyncIterator[Issue]]


@dataclass(frozen=True, slots=True)
class PollWindow:
    """One incremental pull: the JQL to run and the watermark to store once it succeeded."""

    jql: str
    next_watermark: datetime


def poll_window(
    project_keys: Sequence[str],
    watermark: datetime | None,
    now: datetime,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    first_lookback: timedelta = timedelta(days=1),
) -> PollWindow:
    """The JQL for issues of ``project_keys`` updated since ``watermark`` minus ``overlap``."""
    if not project_keys:
        raise ValidationError("polling needs at least one project key")
    for key in project_keys:
        if not _PROJECT_KEY.match(key):
            raise ValidationError(f"{key!r} is not a Jira project key")
    since = (watermark - overlap) if watermark is not None else (now - first_lookback)
    # Minutes relative to now ("-15m") avoid any time-zone interpretation of a literal date.
    minutes = max(1, int((now - since).total_seconds() // 60) + 1)
    projects = jql_list(sorted({k.upper() for k in project_keys}))
    jql = f"project in {projects} AND updated >= -{minutes}m ORDER BY updated ASC"
    return PollWindow(jql=jql, next_watermark=now)


async def poll_statuses(
    search: SearchFn,
    sessions: async_sessionmaker[AsyncSession],
    status: StatusSync,
    *,
    site: str,
    window: PollWindow,
    now: datetime,
) -> list[AppliedPlan]:
    """Run one pull and apply every reported status; returns the plans applied."""
    applied: list[AppliedPlan] = []
    async for issue in search(window.jql):
        current = issue.status
        if current is None:
            continue
        incoming = IncomingStatus(
            issue_key=issue.key,
            status_name=current.name,
            category=current.status_category.key if current.status_category else None,
        )
        async with sessions() as session:
            applied.extend(await status.apply_incoming_status(session, site, incoming, now))
            await session.commit()
    return applied
