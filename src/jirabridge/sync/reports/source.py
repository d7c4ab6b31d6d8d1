"""Report data from Jira: a board's sprints and the histories of their issues, cached locally.

The first load of a board asks once for every issue that may have touched the chosen sprints
(``sprint in (...)`` or updated since the earliest sprint start), with changelogs expanded in
the search itself. Later loads ask only for issues updated since the last load, using a
relative JQL date (``updated >= -Nm``) so the answer does not depend on the Jira user's time
zone. Sprints not covered before are added to the query by id.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from jirabridge.errors import ApiNotFoundError, NotFoundError, ValidationError
from jirabridge.jira import JiraClient
from jirabridge.jira.dates import parse_jira_datetime
from jirabridge.jira.jql import jql_string
from jirabridge.jira.models import Sprint
from jirabridge.store.report_cache import CachedIssue, ReportCacheStore
from jirabridge.sync.reports.engine import SprintInfo, SprintState
from jirabridge.sync.reports.history import (
    FieldIds,
    IssueHistory,
    StatusCategory,
    detect_field_ids,
    parse_issue_history,
    status_categories_from,
)

__all__ = [
    "BoardCache",
    "BoardData",
    "DatabaseReportCache",
    "FileReportCache",
    "MemoryReportCache",
    "ReportCache",
    "SprintDataLoader",
    "select_sprints",
]

#: Extra look-back on incremental loads: clock skew between us and Jira, and index lag.
_OVERLAP_MINUTES = 5
_AGILE = "/rest/agile/1.0"


@dataclass
class BoardCache:
    """What we keep of a board between loads: raw issues (with full changelogs) and marks."""

    board_id: int
    project_key: str | None = None
    #: Sprints whose issues are known to be complete in ``issues``.
    covered_sprints: set[int] = field(default_factory=set)
    #: Issues updated since this instant were fetched (None: never).
    covered_since: datetime | None = None
    #: When the last load ran (by our clock); the next load asks for changes after it.
    loaded_at: datetime | None = None
    statuses: dict[str, StatusCategory] = field(default_factory=dict)
    #: The points and sprint field ids the cached issues were fetched with.
    field_ids: FieldIds | None = None
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return {
            "board_id": self.board_id,
            "project_key": self.project_key,
            "covered_sprints": sorted(self.covered_sprints),
            "covered_since": self.covered_since.isoformat() if self.covered_since else None,
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "statuses": self.statuses,
            "field_ids": (
                {"points": self.field_ids.points, "sprint": self.field_ids.sprint}
                if self.field_ids
                else None
            ),
            "issues": self.issues,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BoardCache:
        """The inverse of :meth:`to_json`."""

        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        ids = data.get("field_ids")
        return cls(
            board_id=int(data["board_id"]),
            field_ids=FieldIds(points=ids["points"], sprint=ids["sprint"]) if ids else None,
            project_key=data.get("project_key"),
            covered_sprints={int(s) for s in data.get("covered_sprints", [])},
            covered_since=when(data.get("covered_since")),
            loaded_at=when(data.get("loaded_at")),
            statuses=dict(data.get("statuses") or {}),
            issues=dict(data.get("issues") or {}),
        )


class ReportCache(Protocol):
    """Where board caches live between loads."""

    async def get(self, site: str, board_id: int) -> BoardCache | None:
        """The cache of a board on a site, if any."""
        ...

    async def put(
        self,
        site: str,
        cache: BoardCache,
        *,
        changed: Collection[str] | None = None,
        dropped: Collection[str] = (),
    ) -> None:
        """Store a board's cache.

        ``changed`` names the issues added or refreshed since :meth:`get` (None: the cache was
        built anew, store all of it); ``dropped`` the issues removed from it. A cache that
        rewrites everything on each put may ignore both.
        """
        ...


class MemoryReportCache:
    """A cache in this process only (tests, one-off runs)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, int], dict[str, Any]] = {}

    async def get(self, site: str, board_id: int) -> BoardCache | None:
        """The cache of a board on a site, if any (a copy)."""
        data = self._data.get((site, board_id))
        return BoardCache.from_json(data) if data is not None else None

    async def put(
        self,
        site: str,
        cache: BoardCache,
        *,
        changed: Collection[str] | None = None,
        dropped: Collection[str] = (),
    ) -> None:
        """Store a copy of a board's cache (the whole of it)."""
        self._data[(site, cache.board_id)] = json.loads(json.dumps(cache.to_json()))


class FileReportCache:
    """One JSON file per site and board under ``directory``: the CLI's cache.

    Host-local on purpose: the CLI talks to Jira directly and has no database. The service
    uses :class:`DatabaseReportCache`, shared by all its hosts (decision 0600).
    """

    def __init__(self, directory: Path) -> None:
        self._dir = Path(directory)

    def _path(self, site: str, board_id: int) -> Path:
        safe = re.sub(r"[^A-Za-z0-9.-]+", "_", site).strip("_") or "site"
        return self._dir / f"{safe}-board-{board_id}.json"

    async def get(self, site: str, board_id: int) -> BoardCache | None:
        """The cache of a board, or None when absent or unreadable (it is only a cache)."""
        path = self._path(site, board_id)
        try:
            return BoardCache.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    async def put(
        self,
        site: str,
        cache: BoardCache,
        *,
        changed: Collection[str] | None = None,
        dropped: Collection[str] = (),
    ) -> None:
        """Write the whole cache atomically: a reader never sees half a file."""
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._path(site, cache.board_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache.to_json()), encoding="utf-8")
        os.replace(tmp, path)


class DatabaseReportCache:
    """Board caches in the application database, shared by every process and host.

    An incremental load writes only the issues it fetched and deletes the ones found gone.
    """

    def __init__(self, store: ReportCacheStore) -> None:
        self._store = store

    async def get(self, site: str, board_id: int) -> BoardCache | None:
        """The cache of a board on a site, if any."""
        stored = await self._store.load(site, board_id)
        if stored is None:
            return None
        try:
            return BoardCache.from_json(
                {**stored.meta, "issues": {i.key: i.raw for i in stored.issues}}
            )
        except (ValueError, KeyError, TypeError):
            return None  # written by another version: it is only a cache, load anew

    async def put(
        self,
        site: str,
        cache: BoardCache,
        *,
        changed: Collection[str] | None = None,
        dropped: Collection[str] = (),
    ) -> None:
        """Store the marks and the changed issues; a cache built anew replaces every row."""
        meta = cache.to_json()
        del meta["issues"]
        keys = cache.issues.keys() if changed is None else changed
        upsert = [_cached_issue(cache.issues[k]) for k in keys if k in cache.issues]
        await self._store.save(
            site,
            cache.board_id,
            meta,
            upsert=upsert,
            drop=[k for k in dropped if k not in cache.issues],
            replace=changed is None,
        )


def _cached_issue(raw: dict[str, Any]) -> CachedIssue:
    fields = raw.get("fields") or {}
    updated = fields.get("updated")
    issue_id = raw.get("id")
    return CachedIssue(
        key=str(raw["key"]),
        id=str(issue_id) if issue_id is not None else None,
        updated=parse_jira_datetime(updated) if isinstance(updated, str) else None,
        raw=raw,
    )


@dataclass(frozen=True)
class BoardData:
    """What a report needs: the board's chosen sprints and the histories of their issues."""

    board_id: int
    sprints: list[SprintInfo]
    histories: list[IssueHistory]
    #: Issues fetched from Jira in this load (0 on a warm load with nothing changed).
    fetched_issues: int
    #: Cached issues found deleted in Jira (or moved out of the board's project) and dropped.
    dropped_issues: int = 0


def _sprint_info(sprint: Sprint) -> SprintInfo | None:
    if sprint.start_date is None or sprint.end_date is None:
        return None
    state: SprintState = "closed" if sprint.state == "closed" else "active"
    if sprint.state == "future":
        return None
    return SprintInfo(
        id=sprint.id,
        name=sprint.name,
        state=state,
        start=sprint.start_date,
        end=sprint.end_date,
        complete=sprint.complete_date,
    )


def select_sprints(
    sprints: Sequence[SprintInfo],
    *,
    sprint_ids: Iterable[int] | None = None,
    last: int | None = None,
) -> list[SprintInfo]:
    """The sprints a report covers, oldest first: the given ids, or the ``last`` N started ones."""
    ordered = sorted(sprints, key=lambda s: (s.start, s.id))
    if sprint_ids is not None:
        wanted = set(sprint_ids)
        chosen = [s for s in ordered if s.id in wanted]
        missing = wanted - {s.id for s in chosen}
        if missing:
            names = ", ".join(map(str, sorted(missing)))
            raise NotFoundError(f"sprint {names} is not a started sprint of this board")
        return chosen
    if last is not None and last < 1:
        raise ValidationError("--last must be at least 1")
    return ordered[-last:] if last else ordered


class SprintDataLoader:
    """Loads board data through a :class:`JiraClient`, keeping a :class:`ReportCache` warm."""

    def __init__(
        self,
        client: JiraClient,
        cache: ReportCache,
        *,
        site: str,
        field_ids: FieldIds | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._cache = cache
        self._site = site
        self._fields = field_ids
        self._clock = clock

    async def board_sprints(self, board_id: int) -> list[SprintInfo]:
        """Started sprints (active and closed) of a board, oldest first."""
        try:
            sprints = [
                s async for s in self._client.board_sprints(board_id, states=("active", "closed"))
            ]
        except ApiNotFoundError:
            raise NotFoundError(f"board {board_id} does not exist on this Jira site") from None
        infos = [info for s in sprints if (info := _sprint_info(s)) is not None]
        return sorted(infos, key=lambda s: (s.start, s.id))

    async def load(
        self,
        board_id: int,
        *,
        sprint_ids: Iterable[int] | None = None,
        last: int | None = None,
    ) -> BoardData:
        """The chosen sprints of a board and the histories of every issue they touched."""
        started = await self.board_sprints(board_id)
        chosen = select_sprints(started, sprint_ids=sprint_ids, last=last)
        now = self._clock()
        cache = await self._cache.get(self._site, board_id) or BoardCache(board_id)
        if cache.project_key is None:
            cache.project_key = await self._board_project(board_id)
        if not cache.statuses:
            cache.statuses = await self._statuses()
        wanted = self._fields or cache.field_ids or await self._detect_fields()
        if cache.field_ids != wanted:
            # Other fields than the cached issues carry: what we hold is of no use.
            cache = BoardCache(board_id, cache.project_key, statuses=cache.statuses)
            cache.field_ids = wanted
        # Only a cache holding issues can be refreshed in part; anything else is stored whole.
        incremental = bool(cache.issues)
        existing = {s.id for s in started}
        membership = self._membership_jql(cache, existing, now) if incremental else None
        fetched: set[str] = set()
        dropped: set[str] = set()
        jql = self._refresh_jql(cache, chosen, now)
        if jql is not None:
            fetched = await self._fetch_into(cache, jql, wanted)
            if membership is not None:
                dropped = await self._drop_deleted(cache, membership, keep=fetched)
            cache.covered_sprints |= {s.id for s in chosen}
            earliest = min((s.start for s in chosen), default=now)
            if cache.covered_since is None or earliest < cache.covered_since:
                cache.covered_since = earliest
            cache.loaded_at = now
            await self._cache.put(
                self._site,
                cache,
                changed=fetched if incremental else None,
                dropped=dropped,
            )
        histories = [
            parse_issue_history(raw, field_ids=wanted, status_categories=cache.statuses)
            for raw in cache.issues.values()
        ]
        return BoardData(board_id, chosen, histories, len(fetched), len(dropped))

    def _membership_jql(self, cache: BoardCache, sprints: set[int], now: datetime) -> str | None:
        """A query every cached issue matched when fetched and still matches unless deleted.

        An issue leaves a covered sprint only by an edit, which moves its ``updated`` past
        ``covered_since``; so the two clauses together keep every issue we ever cached. Only
        sprints the board still has are named: JQL refuses an unknown sprint id.
        """
        clauses: list[str] = []
        if covered := sorted(cache.covered_sprints & sprints):
            clauses.append(f"sprint in ({', '.join(map(str, covered))})")
        if cache.covered_since is not None:
            minutes = math.ceil((now - cache.covered_since).total_seconds() / 60)
            clauses.append(f"updated >= -{max(1, minutes) + _OVERLAP_MINUTES}m")
        if not clauses:
            return None
        where = " OR ".join(clauses)
        if cache.project_key:
            return f"project = {jql_string(cache.project_key)} AND ({where})"
        return where

    async def _drop_deleted(self, cache: BoardCache, jql: str, *, keep: set[str]) -> set[str]:
        # Ids only: one request per 5000 issues on Cloud. An issue without a stored id (a
        # cache written by an older version) cannot be checked and is kept.
        present = {issue_id async for issue_id in self._client.search_ids(jql)}
        gone = {
            key
            for key, raw in cache.issues.items()
            if key not in keep and raw.get("id") is not None and str(raw["id"]) not in present
        }
        for key in gone:
            del cache.issues[key]
        return gone

    def _refresh_jql(
        self, cache: BoardCache, chosen: Sequence[SprintInfo], now: datetime
    ) -> str | None:
        clauses: list[str] = []
        uncovered = sorted(s.id for s in chosen if s.id not in cache.covered_sprints)
        if uncovered:
            clauses.append(f"sprint in ({', '.join(map(str, uncovered))})")
        earliest = min((s.start for s in chosen), default=None)
        since: datetime | None = cache.loaded_at
        if earliest is not None and (cache.covered_since is None or earliest < cache.covered_since):
            # Issues removed from a sprint are no longer "in" it; they were updated when removed.
            since = earliest if since is None else min(since, earliest)
        if since is not None:
            minutes = max(1, math.ceil((now - since).total_seconds() / 60) + _OVERLAP_MINUTES)
            clauses.append(f"updated >= -{minutes}m")
        if not clauses:
            return None
        where = " OR ".join(clauses)
        if cache.project_key:
            return f"project = {jql_string(cache.project_key)} AND ({where})"
        return where

    async def _fetch_into(self, cache: BoardCache, jql: str, ids: FieldIds) -> set[str]:
        fields = ["summary", "status", "issuetype", "created", "updated", ids.points, ids.sprint]
        keys: set[str] = set()
        async for issue in self._client.search(jql, fields=fields, expand=["changelog"]):
            changelog = dict(issue.changelog or {})
            histories = list(changelog.get("histories") or [])
            total = changelog.get("total")
            if isinstance(total, int) and total > len(histories):
                histories = await self._full_changelog(issue.key)
            cache.issues[issue.key] = {
                "id": issue.id,
                "key": issue.key,
                "fields": issue.fields,
                "changelog": {"histories": histories},
            }
            keys.add(issue.key)
        return keys

    async def _full_changelog(self, key: str) -> list[dict[str, Any]]:
        # Search embeds only the newest changelog entries; the rest needs the issue's own list.
        version = await self._client.api_version()
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            response = await self._client.http.request(
                "GET",
                f"/rest/api/{version}/issue/{key}/changelog",
                params={"startAt": start, "maxResults": 100},
            )
            page = response.json()
            values = page.get("values") or []
            out.extend(values)
            start += len(values)
            if not values or page.get("isLast", True) or start >= page.get("total", start):
                return out

    async def _board_project(self, board_id: int) -> str | None:
        try:
            response = await self._client.http.request("GET", f"{_AGILE}/board/{board_id}")
        except ApiNotFoundError:
            raise NotFoundError(f"board {board_id} does not exist on this Jira site") from None
        location = response.json().get("location") or {}
        key = location.get("projectKey")
        return str(key) if key else None

    async def _detect_fields(self) -> FieldIds:
        return detect_field_ids([f.model_dump(by_alias=True) for f in await self._client.fields()])

    async def _statuses(self) -> dict[str, StatusCategory]:
        version = await self._client.api_version()
        response = await self._client.http.request("GET", f"/rest/api/{version}/status")
        return status_categories_from(response.json())
