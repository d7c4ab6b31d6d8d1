"""JQL search as an async iterator that streams in constant memory.

Cloud: ``POST /rest/api/3/search/jql`` (``nextPageToken``/``isLast``, no total). For large result
sets the cheap route is Atlassian's own advice: page through ids only (up to 5000 a page), then
hydrate them with ``POST /issue/bulkfetch`` in chunks. Server/Data Center: ``/rest/api/2/search``
with ``startAt``/``total``. Only one page of issues (or of ids) is held at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Literal

from jirabridge.errors import ValidationError
from jirabridge.jira.core import JiraCore
from jirabridge.jira.jql import jql_list
from jirabridge.jira.models import Issue

__all__ = ["DEFAULT_FIELDS", "SearchMixin", "SearchStrategy"]

#: Cloud's ``/search/jql`` returns ids only unless asked; these make an issue worth reading.
DEFAULT_FIELDS: tuple[str, ...] = (
    "summary",
    "status",
    "issuetype",
    "project",
    "assignee",
    "reporter",
    "labels",
    "parent",
    "created",
    "updated",
)

#: ``pages``: pages of full issues. ``ids``: ids first, then bulkfetch. ``auto``: one page of
#: full issues; when there is more, the rest through ids + bulkfetch.
SearchStrategy = Literal["auto", "pages", "ids"]

_IDS_PAGE = 5000
_BULKFETCH_MAX = 100


class SearchMixin(JiraCore):
    """JQL search and counting."""

    async def search(
        self,
        jql: str,
        *,
        fields: Iterable[str] | None = DEFAULT_FIELDS,
        expand: Iterable[str] | None = None,
        properties: Iterable[str] | None = None,
        page_size: int = 100,
        strategy: SearchStrategy = "auto",
        bulkfetch_size: int = _BULKFETCH_MAX,
        reconcile_issues: Sequence[int] | None = None,
    ) -> AsyncIterator[Issue]:
        """Yield every issue matching ``jql``, streaming page by page.

        ``fields=None`` asks for Jira's default (ids only on Cloud). ``reconcile_issues`` (Cloud,
        ≤ 50 issue ids) makes freshly written issues visible despite the search index lag.
        ``bulkfetch_size`` may be raised to 1000 for requests Atlassian calls "shaped" (explicit
        fields, no multi-value fields, no heavy expand).
        """
        if not jql.strip():
            raise ValidationError("an empty JQL query is unbounded; Jira refuses it")
        if not 1 <= page_size <= _IDS_PAGE:
            raise ValidationError("page_size must be between 1 and 5000")
        if not 1 <= bulkfetch_size <= 1000:
            raise ValidationError("bulkfetch_size must be between 1 and 1000")
        if reconcile_issues is not None and len(reconcile_issues) > 50:
            raise ValidationError("Jira reconciles at most 50 issues per search")
        field_list = list(fields) if fields is not None else None
        expand_list = list(expand) if expand is not None else None
        property_list = list(properties) if properties is not None else None
        if not await self.is_cloud():
            async for issue in self._search_offset(jql, field_list, expand_list, property_list):
                yield issue
            return
        request: dict[str, Any] = {"jql": jql}
        if expand_list:
            request["expand"] = ",".join(expand_list)
        if property_list:
            request["properties"] = property_list
        if reconcile_issues:
            request["reconcileIssues"] = list(reconcile_issues)
        if strategy == "ids":
            async for issue in self._search_ids_then_fetch(
                request, field_list, expand_list, property_list, bulkfetch_size, skip=0
            ):
                yield issue
            return
        token: str | None = None
        yielded = 0
        while True:
            body = {**request, "maxResults": page_size}
            if field_list is not None:
                body["fields"] = field_list
            if token:
                body["nextPageToken"] = token
            page = await self._send("POST", "/rest/api/3/search/jql", json=body, idempotent=True)
            for raw in page.get("issues", []):
                yield Issue.model_validate(raw)
                yielded += 1
            token = page.get("nextPageToken")
            if page.get("isLast", token is None) or not token:
                return
            if strategy == "auto":
                # More than a page: the rest is cheaper as ids (5000 a page) + bulkfetch.
                async for issue in self._search_ids_then_fetch(
                    request, field_list, expand_list, property_list, bulkfetch_size, skip=yielded
                ):
                    yield issue
                return

    async def search_ids(self, jql: str) -> AsyncIterator[str]:
        """Yield the id of every issue matching ``jql``: the cheapest "which issues exist".

        Cloud: 5000 ids a request. Data Center: pages of 100 issues with only their id.
        """
        if not jql.strip():
            raise ValidationError("an empty JQL query is unbounded; Jira refuses it")
        if not await self.is_cloud():
            async for issue in self._search_offset(jql, ["id"], None, None):
                yield issue.id
            return
        async for ids in self._id_pages({"jql": jql}):
            for issue_id in ids:
                yield issue_id

    async def _id_pages(self, request: dict[str, Any]) -> AsyncIterator[list[str]]:
        token: str | None = None
        while True:
            body = {**request, "fields": ["id"], "maxResults": _IDS_PAGE}
            body.pop("expand", None)
            body.pop("properties", None)
            if token:
                body["nextPageToken"] = token
            page = await self._send("POST", "/rest/api/3/search/jql", json=body, idempotent=True)
            yield [str(raw["id"]) for raw in page.get("issues", [])]
            token = page.get("nextPageToken")
            if page.get("isLast", token is None) or not token:
                return

    async def _search_ids_then_fetch(
        self,
        request: dict[str, Any],
        fields: list[str] | None,
        expand: list[str] | None,
        properties: list[str] | None,
        chunk: int,
        *,
        skip: int,
    ) -> AsyncIterator[Issue]:
        async for ids in self._id_pages(request):
            if skip:
                dropped = min(skip, len(ids))
                ids, skip = ids[dropped:], skip - dropped
            for start in range(0, len(ids), chunk):
                async for issue in self._bulkfetch(
                    ids[start : start + chunk], fields, expand, properties
                ):
                    yield issue

    async def _bulkfetch(
        self,
        ids: list[str],
        fields: list[str] | None,
        expand: list[str] | None,
        properties: list[str] | None,
    ) -> AsyncIterator[Issue]:
        body = _shaped({"issueIdsOrKeys": ids}, fields, expand, properties)
        page = await self._send("POST", "/rest/api/3/issue/bulkfetch", json=body, idempotent=True)
        # bulkfetch does not promise the order asked for; the caller's order is the contract.
        by_ref: dict[str, Any] = {}
        for raw in page.get("issues", []):
            by_ref[str(raw.get("id"))] = raw
            by_ref[str(raw.get("key"))] = raw
        for ref in ids:
            raw = by_ref.get(ref)
            if raw is not None:  # deleted since the id page was read, or not visible
                yield Issue.model_validate(raw)

    async def fetch_issues(
        self,
        keys_or_ids: Sequence[str],
        *,
        fields: Iterable[str] | None = DEFAULT_FIELDS,
        expand: Iterable[str] | None = None,
        properties: Iterable[str] | None = None,
    ) -> AsyncIterator[Issue]:
        """Read many issues by key or id (Cloud ``bulkfetch``, 100 a call; Data Center: search)."""
        field_list = list(fields) if fields is not None else None
        expand_list = list(expand) if expand is not None else None
        property_list = list(properties) if properties is not None else None
        if not await self.is_cloud():
            for start in range(0, len(keys_or_ids), _BULKFETCH_MAX):
                chunk = keys_or_ids[start : start + _BULKFETCH_MAX]
                jql = f"key in {jql_list(chunk)}"
                async for issue in self._search_offset(jql, field_list, expand_list, property_list):
                    yield issue
            return
        refs = [str(k) for k in keys_or_ids]
        for start in range(0, len(refs), _BULKFETCH_MAX):
            chunk = refs[start : start + _BULKFETCH_MAX]
            async for issue in self._bulkfetch(chunk, field_list, expand_list, property_list):
                yield issue

    async def _search_offset(
        self,
        jql: str,
        fields: list[str] | None,
        expand: list[str] | None,
        properties: list[str] | None,
    ) -> AsyncIterator[Issue]:
        body = _shaped({"jql": jql}, fields, expand, properties)
        path = await self._api("search")
        async for raw in self._offset_pages(
            path, items_key="issues", page_size=100, method="POST", body=body
        ):
            yield Issue.model_validate(raw)

    async def approximate_count(self, jql: str) -> int:
        """How many issues match ``jql``: Cloud's approximate count, Data Center's exact total."""
        if not jql.strip():
            raise ValidationError("an empty JQL query is unbounded; Jira refuses it")
        if await self.is_cloud():
            data = await self._send(
                "POST", "/rest/api/3/search/approximate-count", json={"jql": jql}, idempotent=True
            )
            return int(data.get("count", 0))
        data = await self._send(
            "POST",
            await self._api("search"),
            json={"jql": jql, "maxResults": 0, "fields": ["id"]},
            idempotent=True,
        )
        return int(data.get("total", 0))


def _shaped(
    body: dict[str, Any],
    fields: list[str] | None,
    expand: list[str] | None,
    properties: list[str] | None,
) -> dict[str, Any]:
    """Add the optional fields/expand/properties a search or fetch asks for."""
    if fields is not None:
        body["fields"] = fields
    if expand:
        body["expand"] = expand
    if properties:
        body["properties"] = properties
    return body
