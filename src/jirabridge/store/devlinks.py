"""Owner-scoped repository for links, Smart Commit results, backfill cursors and the triage log.

Build one :class:`DevLinkStore` per owner (``user:<id>`` or ``team:<id>``, parsed into the
``owner_user_id`` / ``owner_team_id`` columns by :class:`OwnerRef`): every read and write is
filtered by that owner, so another owner's rows are simply not there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jirabridge.errors import ValidationError
from jirabridge.store.db import read_transaction, write_transaction
from jirabridge.store.devlink_models import (
    BackfillCursorRow,
    DevLinkRow,
    SmartCommitResultRow,
    TriageActionRow,
)

__all__ = ["DevLinkStore", "OwnerRef", "StoredCursor", "StoredLink"]

_OWNER = re.compile(r"^(user|team):[0-9A-Za-z-]{1,40}$")


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """One owner, a user or a team, as the two owner columns of the GitHub-and-Jira tables."""

    user_id: str | None
    team_id: str | None

    @classmethod
    def parse(cls, owner_key: str) -> OwnerRef:
        """``user:<id>`` or ``team:<id>``; anything else is a :class:`ValidationError`."""
        if not _OWNER.match(owner_key):
            raise ValidationError("owner must be 'user:<id>' or 'team:<id>'")
        kind, _, ident = owner_key.partition(":")
        return cls(ident, None) if kind == "user" else cls(None, ident)

    @property
    def key(self) -> str:
        """Back to ``user:<id>`` / ``team:<id>``."""
        return f"team:{self.team_id}" if self.team_id is not None else f"user:{self.user_id}"

    def where(self, model: Any) -> Any:
        """The WHERE clause selecting ``model`` rows of this owner."""
        if self.team_id is not None:
            return model.owner_team_id == self.team_id
        return model.owner_user_id == self.user_id

    def columns(self) -> dict[str, str | None]:
        """The owner columns of a new row."""
        return {"owner_user_id": self.user_id, "owner_team_id": self.team_id}


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A stored issue link."""

    issue_key: str
    repo: str
    kind: str
    ref: str
    found_in: tuple[str, ...]
    url: str | None
    title: str | None
    state: str | None


@dataclass(frozen=True, slots=True)
class StoredCursor:
    """A stored backfill cursor (same fields as the backfill's own cursor)."""

    repo: str
    last_number: int
    processed: int
    total: int
    done: bool


class DevLinkStore:
    """Rows of one owner. Each method is one short transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], owner_key: str) -> None:
        self.owner = OwnerRef.parse(owner_key)
        self._sessions = sessions
        self.owner_key = owner_key

    async def save_link(self, link: StoredLink) -> None:
        """Insert or refresh one link (unique per issue, repo, kind and ref)."""
        async with write_transaction(self._sessions) as session:
            row = (
                await session.execute(
                    select(DevLinkRow).where(
                        self.owner.where(DevLinkRow),
                        DevLinkRow.issue_key == link.issue_key,
                        DevLinkRow.repo == link.repo,
                        DevLinkRow.kind == link.kind,
                        DevLinkRow.ref == link.ref,
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                row = DevLinkRow(
                    **self.owner.columns(),
                    issue_key=link.issue_key,
                    repo=link.repo,
                    kind=link.kind,
                    ref=link.ref,
                )
                session.add(row)
            row.found_in = sorted({*(row.found_in or []), *link.found_in})
            row.url, row.title, row.state = link.url, link.title, link.state

    async def links(
        self, *, issue_key: str | None = None, repo: str | None = None
    ) -> list[StoredLink]:
        """Links of one issue, or of one repository, or all; newest first."""
        query = select(DevLinkRow).where(self.owner.where(DevLinkRow))
        if issue_key is not None:
            query = query.where(DevLinkRow.issue_key == issue_key)
        if repo is not None:
            query = query.where(DevLinkRow.repo == repo)
        async with read_transaction(self._sessions) as session:
            rows = (await session.execute(query.order_by(DevLinkRow.id.desc()))).scalars().all()
        return [
            StoredLink(
                r.issue_key, r.repo, r.kind, r.ref, tuple(r.found_in), r.url, r.title, r.state
            )
            for r in rows
        ]

    async def record_smart_result(
        self,
        *,
        repo: str,
        sha: str,
        external_id: str,
        issue_key: str | None,
        kind: str,
        status: str,
        detail: str | None = None,
    ) -> None:
        """Record (or update) what one Smart Commit command did."""
        async with write_transaction(self._sessions) as session:
            row = (
                await session.execute(
                    select(SmartCommitResultRow).where(
                        self.owner.where(SmartCommitResultRow),
                        SmartCommitResultRow.external_id == external_id,
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                row = SmartCommitResultRow(
                    **self.owner.columns(), repo=repo, sha=sha, external_id=external_id
                )
                session.add(row)
            row.issue_key, row.kind, row.status, row.detail = issue_key, kind, status, detail

    async def smart_results(self, sha: str | None = None) -> list[SmartCommitResultRow]:
        """Smart Commit results, of one commit or all, oldest first."""
        query = select(SmartCommitResultRow).where(self.owner.where(SmartCommitResultRow))
        if sha is not None:
            query = query.where(SmartCommitResultRow.sha == sha)
        async with read_transaction(self._sessions) as session:
            return list((await session.execute(query.order_by(SmartCommitResultRow.id))).scalars())

    async def load(self, repo: str) -> StoredCursor | None:
        """The backfill cursor of ``repo`` (the backfill's ``CursorStore.load``)."""
        async with read_transaction(self._sessions) as session:
            row = (
                await session.execute(
                    select(BackfillCursorRow).where(
                        self.owner.where(BackfillCursorRow),
                        BackfillCursorRow.repo == repo,
                    )
                )
            ).scalar_one_or_none()
        if row is None:
            return None
        return StoredCursor(row.repo, row.last_number, row.processed, row.total, row.done)

    async def save(self, cursor: StoredCursor) -> None:
        """Store a backfill cursor (the backfill's ``CursorStore.save``)."""
        async with write_transaction(self._sessions) as session:
            row = (
                await session.execute(
                    select(BackfillCursorRow).where(
                        self.owner.where(BackfillCursorRow),
                        BackfillCursorRow.repo == cursor.repo,
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                row = BackfillCursorRow(**self.owner.columns(), repo=cursor.repo)
                session.add(row)
            row.last_number, row.processed = cursor.last_number, cursor.processed
            row.total, row.done = cursor.total, cursor.done

    async def cursors(self) -> list[StoredCursor]:
        """Every backfill cursor of this owner (for the progress page)."""
        async with read_transaction(self._sessions) as session:
            rows = (
                await session.execute(
                    select(BackfillCursorRow)
                    .where(self.owner.where(BackfillCursorRow))
                    .order_by(BackfillCursorRow.repo)
                )
            ).scalars()
            return [StoredCursor(r.repo, r.last_number, r.processed, r.total, r.done) for r in rows]

    async def log_triage(
        self,
        bug_source: str,
        entries: Iterable[Sequence[str]],
        *,
        connection_id: str | None = None,
    ) -> None:
        """Append action-log entries: each is ``(bug_ref, rule, kind, value, status, detail)``,
        made by the rules of GitHub connection ``connection_id``."""
        async with write_transaction(self._sessions) as session:
            for bug_ref, rule, kind, value, status, detail in entries:
                session.add(
                    TriageActionRow(
                        **self.owner.columns(),
                        bug_source=bug_source,
                        bug_ref=bug_ref,
                        rule=rule,
                        kind=kind,
                        value=value,
                        status=status,
                        detail=detail or None,
                        github_connection_id=connection_id,
                    )
                )

    async def triage_log(
        self, *, limit: int = 100, connection_id: str | None = None
    ) -> list[TriageActionRow]:
        """The newest action-log entries first; only ``connection_id``'s when it is given."""
        async with read_transaction(self._sessions) as session:
            query = select(TriageActionRow).where(self.owner.where(TriageActionRow))
            if connection_id is not None:
                query = query.where(TriageActionRow.github_connection_id == connection_id)
            query = query.order_by(TriageActionRow.id.desc()).limit(limit)
            return list((await session.execute(query)).scalars())
