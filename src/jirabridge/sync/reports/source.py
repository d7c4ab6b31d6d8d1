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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from jirabridge.errors import ApiNotFoundError, NotFoundError, ValidationError
from jirabridge.jira import JiraClient
from jirabridge.jira.models import Sprint
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

    async def put(self, site: str, cache: BoardCache) -> None:
        """Store a board's cache."""
        ...


class MemoryReportCache:
    """A cache in this process only (tests, one-off runs)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, int], dict[str, Any]] = {}

    async def get(self, site: str, board_id: int) -> BoardCache | None:
        """The cache of a board on a site, if any (a copy)."""
        data = self._data.get((site, board_id))
        return BoardCache.from_json(data) if data is not None else None

    async def put(self, site: str, cache: BoardCache) -> None:
        """Store a copy of a board's cache."""
        self._data[(site, cache.board_id)] = json.loads(json.dumps(cache.to_json()))


class FileReportCache:
    """One JSON file per site and board under ``directory`` (the CLI's cache)."""

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

    async def put(self, site: str, cache: BoardCache) -> None:
        """Write atomically: a reader never sees half a file."""
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._path(site, cache.board_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache.to_json()), encoding="utf-8")
        os.replace(tmp, path)


@dataclass(frozen=True)
class BoardData:
    """What a report needs: the board's chosen sprints and the histories of their issues."""

    board_id: int
    sprints: list[SprintInfo]
    histories: list[IssueHistory]
    #: Issues fetched from Jira in this load (0 on a warm load with nothing changed).
    fetched_issues: int


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
        chosen = select_sprints(
            await self.board_sprints(board_id), sprint_ids=sprint_ids, last=last
        )
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
        fetched = 0
        jql = self._refresh_jql(cache, chosen, now)
        if jql is not None:
            fetched = await self._fetch_into(cache, jql, wanted)
            cache.covered_sprints |= {s.id for s in chosen}
            earliest = min((s.start for s in chosen), default=now)
            if cache.covered_since is None or earliest < cache.covered_since:
                cache.covered_since = earliest
            cache.loaded_at = now
            await self._cache.put(self._site, cache)
        histories = [
            parse_issue_history(raw, field_ids=wanted, status_categories=cache.statuses)
            for raw in cache.issues.values()
        ]
        return BoardData(board_id, chosen, histories, fetched)

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
            return f'project = "{cache.project_key}" AND ({where})'
        return where

    async def _fetch_into(self, cache: BoardCache, jql: str, ids: FieldIds) -> int:
        fields = ["summary", "status", "issuetype", "created", "updated", ids.points, ids.sprint]
        count = 0
        async for issue in self._client.search(jql, fields=fields, expand=["changelog"]):
            changelog = dict(issue.changelog or {})
            histories = list(changelog.get("histories") or [])
            total = changelog.get("total")
            if isinstance(total, int) and total > len(histories):
                histories = await self._full_changelog(issue.key)
            cache.issues[issue.key] = {
                "key": issue.key,
                "fields": issue.fields,
                "changelog": {"histories": histories},
            }
            count += 1
        return count

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
