"""Search routes: ``/search/jql`` (Cloud), ``/search`` (DC; 410 on Cloud), count, bulkfetch."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from jirabridge.sim.errors import SimHTTPError
from jirabridge.sim.jql import JqlError, parse
from jirabridge.sim.model import Issue
from jirabridge.sim.routes_issues import _expand
from jirabridge.sim.search import Searcher, run_jql
from jirabridge.sim.web import Ctx

__all__ = ["ROUTES", "ROUTES_V2_DC", "gone"]

_IDS_PAGE_MAX = 5000
_FIELDS_PAGE_MAX = 100
_BULKFETCH_MAX = 100
#: "A list of up to 5 issue properties to include in the results" (the search parameter).
_SEARCH_PROPERTIES_MAX = 5
_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


def _token(jql: str, offset: int) -> str:
    digest = hashlib.sha256(jql.encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(f"{digest}:{offset}".encode()).decode().rstrip("=")


def _offset(jql: str, token: str | None) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        digest, _, offset = raw.partition(":")
        if digest == hashlib.sha256(jql.encode()).hexdigest()[:12] and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise SimHTTPError(400, ["The provided next page token is invalid or expired."])


def _fields_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    out: list[str] = []
    for item in raw:
        out.extend(x.strip() for x in str(item).split(",") if x.strip())
    return out


def _ids_only(fields: list[str]) -> bool:
    return not fields or fields == ["id"]


def search_jql(ctx: Ctx) -> Any:
    if ctx.request.method == "POST":
        body = ctx.body_dict()
        jql = body.get("jql") or ""
        token = body.get("nextPageToken")
        max_results = body.get("maxResults", 50)
        fields = _fields_list(body.get("fields"))
        expand = set(_fields_list(body.get("expand")))
        properties = _fields_list(body.get("properties"))
        reconcile = body.get("reconcileIssues") or []
    else:
        jql = ctx.params.get("jql", "")
        token = ctx.params.get("nextPageToken")
        max_results = ctx.int_param("maxResults", 50)
        fields = _fields_list(ctx.multi("fields"))
        expand = _expand(ctx)
        properties = _fields_list(ctx.multi("properties"))
        reconcile = [int(x) for x in _fields_list(ctx.multi("reconcileIssues")) if x.isdigit()]
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 0:
        raise SimHTTPError(400, ["maxResults must be a non-negative integer."])
    if not isinstance(reconcile, list) or len(reconcile) > 50:
        raise SimHTTPError(400, ["reconcileIssues accepts at most 50 issue ids."])
    ids_only = _ids_only(fields)
    page_size = min(max_results or 50, _IDS_PAGE_MAX if ids_only else _FIELDS_PAGE_MAX)
    offset = _offset(jql, token)
    try:
        query = parse(jql)
        if query.where is None:
            raise JqlError(
                "Unbounded JQL queries are not allowed here. "
                "Please add a search restriction to your query."
            )
        visible: dict[int, Issue] = {i.id: i for i in ctx.site.searchable()}
        for issue_id in reconcile:
            live = ctx.site.issues.get(issue_id) if isinstance(issue_id, int) else None
            if live is not None:
                visible[issue_id] = live
        matched = Searcher(ctx.site, ctx.principal.user_id if ctx.principal else None).run(
            query, visible.values()
        )
    except JqlError as exc:
        raise SimHTTPError(400, [str(exc)]) from None
    page = matched[offset : offset + page_size]
    is_last = offset + page_size >= len(matched)
    if ids_only:
        rendered = [{"id": str(i.id)} for i in page]
    else:
        r = ctx.r
        rendered = [
            r.issue(i, fields=fields, default_all=False, expand=expand, properties=properties)
            for i in page
        ]
    out: dict[str, Any] = {"issues": rendered, "isLast": is_last}
    if not is_last:
        out["nextPageToken"] = _token(jql, offset + page_size)
    return out


def approximate_count(ctx: Ctx) -> Any:
    jql = ctx.body_dict().get("jql") or ""
    return {"count": len(run_jql(ctx.site, jql, ctx.user, bounded=True))}


def bulkfetch(ctx: Ctx) -> Any:
    body = ctx.body_dict()
    refs = body.get("issueIdsOrKeys")
    if not isinstance(refs, list) or not refs:
        raise SimHTTPError(400, ["issueIdsOrKeys must be a non-empty list."])
    if len(refs) > _BULKFETCH_MAX:
        raise SimHTTPError(400, [f"A maximum of {_BULKFETCH_MAX} issues can be fetched at once."])
    fields = _fields_list(body.get("fields")) or ["*navigable"]
    expand = set(_fields_list(body.get("expand")))
    properties = _fields_list(body.get("properties"))
    issues = []
    errors = []
    for ref in refs:
        issue = ctx.site.find_issue(str(ref))
        if issue is None:
            errors.append(
                {
                    "id": str(ref),
                    "errorMessage": "Issue does not exist or you do not have permission to see it.",
                }
            )
            continue
        issues.append(ctx.r.issue(issue, fields=fields, expand=expand, properties=properties))
    return {"issues": issues, "issueErrors": errors}


def gone(ctx: Ctx) -> Any:
    raise SimHTTPError(410, [_GONE])


def search_v2(ctx: Ctx) -> Any:
    if ctx.request.method == "POST":
        body = ctx.body_dict()
        jql = body.get("jql") or ""
        start = body.get("startAt", 0)
        size = body.get("maxResults", 50)
        fields = _fields_list(body.get("fields"))
        expand = set(_fields_list(body.get("expand")))
        properties = _fields_list(body.get("properties"))
    else:
        jql = ctx.params.get("jql", "")
        start = ctx.int_param("startAt", 0)
        size = ctx.int_param("maxResults", 50)
        fields = _fields_list(ctx.multi("fields"))
        expand = _expand(ctx)
        properties = _fields_list(ctx.multi("properties"))
    if not isinstance(start, int) or not isinstance(size, int) or start < 0 or size < 0:
        raise SimHTTPError(400, ["startAt and maxResults must be non-negative integers."])
    if len(properties) > _SEARCH_PROPERTIES_MAX:
        raise SimHTTPError(
            400, [f"A maximum of {_SEARCH_PROPERTIES_MAX} issue properties can be requested."]
        )
    size = min(size, 1000)
    matched = run_jql(ctx.site, jql, ctx.user)
    page = matched[start : start + size]
    r = ctx.r
    return {
        "expand": "schema,names",
        "startAt": start,
        "maxResults": size,
        "total": len(matched),
        "issues": [
            r.issue(i, fields=fields or None, expand=expand, properties=properties) for i in page
        ],
    }


ROUTES: list[tuple[str, str, Any, int]] = [
    ("GET", "/search/jql", search_jql, 200),
    ("POST", "/search/jql", search_jql, 200),
    ("POST", "/search/approximate-count", approximate_count, 200),
    ("POST", "/issue/bulkfetch", bulkfetch, 200),
]

#: The old search: Data Center serves it, Cloud answers 410.
ROUTES_V2_DC: list[tuple[str, str, Any, int]] = [
    ("GET", "/search", search_v2, 200),
    ("POST", "/search", search_v2, 200),
]
