"""Worklogs: add/update/delete/list, the incremental feeds, and an exactly-once add.

``notifyUsers`` defaults to False here although Jira's default is true: worklogs written by a
sync are copies of time already recorded elsewhere, and a bulk sync of hundreds of them would
mail every watcher of every issue once per worklog. Pass ``notify_users=True`` to opt back in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from jirabridge.errors import ValidationError
from jirabridge.jira.core import (
    EXTERNAL_ID_PROPERTY,
    JiraCore,
    clean_params,
    path_part,
    text_body,
)
from jirabridge.jira.dates import format_jira_datetime, to_epoch_ms
from jirabridge.jira.models import Worklog, WorklogChange

__all__ = ["AdjustEstimate", "WorklogsMixin"]

#: How the remaining estimate changes: ``auto`` (Jira's default), ``leave``, ``new``
#: (with ``new_estimate``), ``manual`` (with ``reduce_by`` on add / ``increase_by`` on delete).
AdjustEstimate = Literal["auto", "leave", "new", "manual"]

_MIN_SECONDS = 60
_LIST_MAX = 1000
#: How far around ``started`` the exactly-once reconcile looks; Jira keeps ``started`` to the
#: millisecond, the window only absorbs rounding by older servers.
_RECONCILE_WINDOW = timedelta(seconds=1)


def _estimate_params(
    verb: Literal["add", "update", "delete"],
    adjust: AdjustEstimate,
    new_estimate: str | None,
    change_by: str | None,
) -> dict[str, Any]:
    if verb == "update" and adjust == "manual":
        raise ValidationError("adjust_estimate='manual' is not accepted when updating a worklog")
    if adjust == "new" and not new_estimate:
        raise ValidationError("adjust_estimate='new' needs new_estimate (e.g. '2d 4h')")
    if adjust == "manual" and not change_by:
        what = "reduce_by" if verb == "add" else "increase_by"
        raise ValidationError(f"adjust_estimate='manual' needs {what}")
    params: dict[str, Any] = {"adjustEstimate": None if adjust == "auto" else adjust}
    if adjust == "new":
        params["newEstimate"] = new_estimate
    if adjust == "manual":
        params["reduceBy" if verb == "add" else "increaseBy"] = change_by
    return params


def _check_seconds(seconds: int) -> int:
    if seconds < _MIN_SECONDS:
        raise ValidationError(f"Jira refuses worklogs under a minute; got {seconds} s")
    return seconds


class WorklogsMixin(JiraCore):
    """Worklog operations."""

    async def worklogs(
        self,
        key: str,
        *,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        expand_properties: bool = False,
    ) -> AsyncIterator[Worklog]:
        """The worklogs of an issue (optionally those started in a window), streamed."""
        params = {
            "startedAfter": to_epoch_ms(started_after) if started_after else None,
            "startedBefore": to_epoch_ms(started_before) if started_before else None,
            "expand": "properties" if expand_properties else None,
        }
        path = await self._api(f"issue/{path_part(key)}/worklog")
        async for raw in self._offset_pages(
            path, params=params, items_key="worklogs", page_size=_LIST_MAX
        ):
            yield Worklog.model_validate(raw)

    async def get_worklog(
        self, key: str, worklog_id: str, *, expand_properties: bool = False
    ) -> Worklog:
        """One worklog."""
        data = await self._get(
            await self._api(f"issue/{path_part(key)}/worklog/{path_part(worklog_id)}"),
            {"expand": "properties" if expand_properties else None},
        )
        return Worklog.model_validate(data)

    async def _worklog_body(
        self,
        *,
        started: datetime | None,
        time_spent_seconds: int | None,
        comment: str | dict[str, Any] | None,
        properties: Mapping[str, Any] | None,
        visibility: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if started is not None:
            body["started"] = format_jira_datetime(started)
        if time_spent_seconds is not None:
            body["timeSpentSeconds"] = _check_seconds(time_spent_seconds)
        if comment is not None:
            body["comment"] = text_body(comment, api_version=await self.api_version())
        if properties:
            body["properties"] = [{"key": k, "value": v} for k, v in properties.items()]
        if visibility:
            body["visibility"] = dict(visibility)
        return body

    async def add_worklog(
        self,
        key: str,
        *,
        started: datetime,
        time_spent_seconds: int,
        comment: str | dict[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        visibility: Mapping[str, str] | None = None,
        notify_users: bool = False,
        adjust_estimate: AdjustEstimate = "auto",
        new_estimate: str | None = None,
        reduce_by: str | None = None,
    ) -> Worklog:
        """``POST /issue/{key}/worklog``, sent once (see :meth:`add_worklog_once` for retries).

        ``started`` must be tz-aware; ``time_spent_seconds`` at least 60.
        """
        body, params = await self._add_request(
            started=started,
            time_spent_seconds=time_spent_seconds,
            comment=comment,
            properties=properties,
            visibility=visibility,
            notify_users=notify_users,
            adjust_estimate=adjust_estimate,
            new_estimate=new_estimate,
            reduce_by=reduce_by,
        )
        data = await self._send(
            "POST",
            await self._api(f"issue/{path_part(key)}/worklog"),
            json=body,
            params=params,
            issue_key=key,
            idempotent=False,
        )
        return Worklog.model_validate(data)

    async def _add_request(
        self,
        *,
        started: datetime,
        time_spent_seconds: int,
        comment: str | dict[str, Any] | None,
        properties: Mapping[str, Any] | None,
        visibility: Mapping[str, str] | None,
        notify_users: bool,
        adjust_estimate: AdjustEstimate,
        new_estimate: str | None,
        reduce_by: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        params = _estimate_params("add", adjust_estimate, new_estimate, reduce_by)
        params["notifyUsers"] = notify_users
        body = await self._worklog_body(
            started=started,
            time_spent_seconds=time_spent_seconds,
            comment=comment,
            properties=properties,
            visibility=visibility,
        )
        return body, params

    async def add_worklog_once(
        self,
        key: str,
        *,
        external_id: str,
        started: datetime,
        time_spent_seconds: int,
        comment: str | dict[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        visibility: Mapping[str, str] | None = None,
        notify_users: bool = False,
        adjust_estimate: AdjustEstimate = "auto",
        new_estimate: str | None = None,
        reduce_by: str | None = None,
    ) -> Worklog:
        """Add a worklog exactly once, even when the answer is lost.

        ``external_id`` is stamped as the worklog property ``jirabridge.external-id``. After an
        ambiguous failure the issue's worklogs started around ``started`` are listed with their
        properties (a consistent read, no search lag) and ours is adopted if it is there.
        """
        if not external_id:
            raise ValidationError("add_worklog_once needs a non-empty external_id")
        props = {**(properties or {}), EXTERNAL_ID_PROPERTY: {"externalId": external_id}}
        body, params = await self._add_request(
            started=started,
            time_spent_seconds=time_spent_seconds,
            comment=comment,
            properties=props,
            visibility=visibility,
            notify_users=notify_users,
            adjust_estimate=adjust_estimate,
            new_estimate=new_estimate,
            reduce_by=reduce_by,
        )
        path = await self._api(f"issue/{path_part(key)}/worklog")

        async def reconcile() -> Worklog | None:
            return await self.find_worklog(key, external_id=external_id, started=started)

        return await self._http.write_once(
            "POST",
            path,
            params=clean_params(params),
            json=body,
            parse=lambda response: Worklog.model_validate(response.json()),
            reconcile=reconcile,
            issue_key=key,
        )

    async def find_worklog(
        self, key: str, *, external_id: str, started: datetime
    ) -> Worklog | None:
        """The worklog on ``key`` started at ``started`` that carries ``external_id``, if any."""
        async for worklog in self.worklogs(
            key,
            started_after=started - _RECONCILE_WINDOW,
            started_before=started + _RECONCILE_WINDOW,
            expand_properties=True,
        ):
            stamp = worklog.get_property(EXTERNAL_ID_PROPERTY)
            if isinstance(stamp, Mapping) and stamp.get("externalId") == external_id:
                return worklog
        return None

    async def update_worklog(
        self,
        key: str,
        worklog_id: str,
        *,
        started: datetime | None = None,
        time_spent_seconds: int | None = None,
        comment: str | dict[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        visibility: Mapping[str, str] | None = None,
        notify_users: bool = False,
        adjust_estimate: AdjustEstimate = "auto",
        new_estimate: str | None = None,
    ) -> Worklog:
        """``PUT /issue/{key}/worklog/{id}``: change only what is given."""
        params = _estimate_params("update", adjust_estimate, new_estimate, None)
        params["notifyUsers"] = notify_users
        body = await self._worklog_body(
            started=started,
            time_spent_seconds=time_spent_seconds,
            comment=comment,
            properties=properties,
            visibility=visibility,
        )
        if not body:
            raise ValidationError("update_worklog needs something to change")
        data = await self._send(
            "PUT",
            await self._api(f"issue/{path_part(key)}/worklog/{path_part(worklog_id)}"),
            json=body,
            params=params,
            issue_key=key,
        )
        return Worklog.model_validate(data)

    async def delete_worklog(
        self,
        key: str,
        worklog_id: str,
        *,
        notify_users: bool = False,
        adjust_estimate: AdjustEstimate = "auto",
        new_estimate: str | None = None,
        increase_by: str | None = None,
    ) -> None:
        """``DELETE /issue/{key}/worklog/{id}``."""
        params = _estimate_params("delete", adjust_estimate, new_estimate, increase_by)
        params["notifyUsers"] = notify_users
        await self._send(
            "DELETE",
            await self._api(f"issue/{path_part(key)}/worklog/{path_part(worklog_id)}"),
            params=params,
            issue_key=key,
        )

    async def worklogs_updated(
        self, since: datetime, *, expand_properties: bool = False
    ) -> AsyncIterator[WorklogChange]:
        """Worklogs changed since ``since`` (1000 a page). Jira leaves out the last minute."""
        async for change in self._changed_worklogs("worklog/updated", since, expand_properties):
            yield change

    async def worklogs_deleted(self, since: datetime) -> AsyncIterator[WorklogChange]:
        """Worklogs deleted since ``since`` (1000 a page)."""
        async for change in self._changed_worklogs("worklog/deleted", since, False):
            yield change

    async def _changed_worklogs(
        self, endpoint: str, since: datetime, expand_properties: bool
    ) -> AsyncIterator[WorklogChange]:
        path = await self._api(endpoint)
        cursor = to_epoch_ms(since)
        while True:
            page = await self._get(
                path,
                {"since": cursor, "expand": "properties" if expand_properties else None},
            )
            for raw in page.get("values", []):
                yield WorklogChange.model_validate(raw)
            until = page.get("until")
            if page.get("lastPage", True) or not isinstance(until, int) or until <= cursor:
                return
            cursor = until

    async def worklogs_by_ids(
        self, ids: Sequence[int | str], *, expand_properties: bool = False
    ) -> list[Worklog]:
        """``POST /worklog/list`` in chunks of 1000 ids."""
        path = await self._api("worklog/list")
        out: list[Worklog] = []
        for start in range(0, len(ids), _LIST_MAX):
            chunk = [int(x) for x in ids[start : start + _LIST_MAX]]
            data = await self._send(
                "POST",
                path,
                json={"ids": chunk},
                params={"expand": "properties" if expand_properties else None},
                idempotent=True,
            )
            out.extend(Worklog.model_validate(x) for x in data or [])
        return out
