"""Jira Software's Agile 1.0 API: boards, sprints, epics, backlog (same on Cloud and DC)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from jirabridge.errors import ValidationError
from jirabridge.jira.core import AGILE, JiraCore, comma_list, path_part
from jirabridge.jira.dates import format_jira_datetime
from jirabridge.jira.models import Board, Epic, Issue, Sprint

__all__ = ["AgileMixin", "SprintState"]

SprintState = Literal["future", "active", "closed"]

#: Jira moves at most 50 issues into a sprint per call.
_MOVE_MAX = 50


class AgileMixin(JiraCore):
    """Boards, sprints, epics and the backlog."""

    async def boards(
        self, *, project: str | None = None, board_type: str | None = None, name: str | None = None
    ) -> AsyncIterator[Board]:
        """Boards visible to the caller, optionally of one project or type (scrum/kanban)."""
        params = {"projectKeyOrId": project, "type": board_type, "name": name}
        async for raw in self._offset_pages(f"{AGILE}/board", params=params):
            yield Board.model_validate(raw)

    async def board_sprints(
        self, board_id: int, *, states: Iterable[SprintState] | None = None
    ) -> AsyncIterator[Sprint]:
        """The sprints of a board, oldest first."""
        params = {"state": comma_list(states)}
        async for raw in self._offset_pages(
            f"{AGILE}/board/{path_part(board_id)}/sprint", params=params
        ):
            yield Sprint.model_validate(raw)

    async def get_sprint(self, sprint_id: int) -> Sprint:
        """One sprint."""
        return Sprint.model_validate(await self._get(f"{AGILE}/sprint/{path_part(sprint_id)}"))

    async def sprint_issues(
        self,
        sprint_id: int,
        *,
        jql: str | None = None,
        fields: Iterable[str] | None = None,
        expand: Iterable[str] | None = None,
    ) -> AsyncIterator[Issue]:
        """The issues of a sprint, streamed."""
        async for issue in self._agile_issues(
            f"{AGILE}/sprint/{path_part(sprint_id)}/issue", jql, fields, expand
        ):
            yield issue

    async def backlog_issues(
        self, board_id: int, *, jql: str | None = None, fields: Iterable[str] | None = None
    ) -> AsyncIterator[Issue]:
        """The backlog of a board (issues in no active or future sprint)."""
        async for issue in self._agile_issues(
            f"{AGILE}/board/{path_part(board_id)}/backlog", jql, fields, None
        ):
            yield issue

    async def board_epics(self, board_id: int, *, done: bool | None = None) -> AsyncIterator[Epic]:
        """The epics of a board."""
        async for raw in self._offset_pages(
            f"{AGILE}/board/{path_part(board_id)}/epic", params={"done": done}
        ):
            yield Epic.model_validate(raw)

    async def epic_issues(
        self, epic: str | int, *, jql: str | None = None, fields: Iterable[str] | None = None
    ) -> AsyncIterator[Issue]:
        """The issues of an epic."""
        async for issue in self._agile_issues(
            f"{AGILE}/epic/{path_part(epic)}/issue", jql, fields, None
        ):
            yield issue

    async def _agile_issues(
        self,
        path: str,
        jql: str | None,
        fields: Iterable[str] | None,
        expand: Iterable[str] | None,
    ) -> AsyncIterator[Issue]:
        params = {"jql": jql, "fields": comma_list(fields), "expand": comma_list(expand)}
        async for raw in self._offset_pages(path, params=params, items_key="issues"):
            yield Issue.model_validate(raw)

    async def create_sprint(
        self,
        name: str,
        *,
        board_id: int,
        start: datetime | None = None,
        end: datetime | None = None,
        goal: str | None = None,
    ) -> Sprint:
        """``POST /sprint``: a future sprint on ``board_id``."""
        if not name.strip():
            raise ValidationError("a sprint needs a name")
        body: dict[str, Any] = {"name": name, "originBoardId": board_id}
        body.update(_dates(start, end))
        if goal is not None:
            body["goal"] = goal
        return Sprint.model_validate(
            await self._send("POST", f"{AGILE}/sprint", json=body, idempotent=False)
        )

    async def update_sprint(
        self,
        sprint_id: int,
        *,
        name: str | None = None,
        state: SprintState | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        goal: str | None = None,
    ) -> Sprint:
        """``POST /sprint/{id}``: a partial update (only what is given changes)."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if state is not None:
            body["state"] = state
        if goal is not None:
            body["goal"] = goal
        body.update(_dates(start, end))
        if not body:
            raise ValidationError("update_sprint needs something to change")
        # A partial update with the same values is harmless to repeat.
        data = await self._send(
            "POST", f"{AGILE}/sprint/{path_part(sprint_id)}", json=body, idempotent=True
        )
        return Sprint.model_validate(data)

    async def start_sprint(self, sprint_id: int, *, start: datetime, end: datetime) -> Sprint:
        """Make a future sprint active, with its dates (Jira requires both)."""
        if end <= start:
            raise ValidationError("a sprint must end after it starts")
        return await self.update_sprint(sprint_id, state="active", start=start, end=end)

    async def close_sprint(self, sprint_id: int) -> Sprint:
        """Close an active sprint."""
        return await self.update_sprint(sprint_id, state="closed")

    async def move_issues_to_sprint(self, sprint_id: int, issue_keys: Sequence[str]) -> None:
        """``POST /sprint/{id}/issue``, 50 issues per call."""
        if not issue_keys:
            raise ValidationError("give at least one issue to move")
        path = f"{AGILE}/sprint/{path_part(sprint_id)}/issue"
        for start in range(0, len(issue_keys), _MOVE_MAX):
            chunk = list(issue_keys[start : start + _MOVE_MAX])
            await self._send("POST", path, json={"issues": chunk}, idempotent=True)

    async def move_issues_to_backlog(self, issue_keys: Sequence[str]) -> None:
        """``POST /backlog/issue``: take issues out of every sprint, 50 per call."""
        if not issue_keys:
            raise ValidationError("give at least one issue to move")
        for start in range(0, len(issue_keys), _MOVE_MAX):
            chunk = list(issue_keys[start : start + _MOVE_MAX])
            await self._send(
                "POST", f"{AGILE}/backlog/issue", json={"issues": chunk}, idempotent=True
            )


def _dates(start: datetime | None, end: datetime | None) -> dict[str, str]:
    # Jira's own form (``+0000``), as Jira writes sprint dates back; Atlassian's Agile examples
    # show ``+10:00``, which strict parsers (the simulator's among them) refuse.
    out: dict[str, str] = {}
    if start is not None:
        out["startDate"] = format_jira_datetime(start)
    if end is not None:
        out["endDate"] = format_jira_datetime(end)
    return out
